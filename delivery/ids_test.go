package delivery

import "testing"

func TestUUID5(t *testing.T) {
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	// RFC 9562's namespace for DNS names, and Python's uuid.uuid5 of the same.
	if got, want := uuid5(dns, "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d"; got != want {
		t.Errorf("uuid5(DNS, python.org) = %s, want %s", got, want)
	}
	id := "0123456789abcdef0123456789abcdef"
	if leadID(id) != leadID(id) || leadID(id) == contactID(id) || leadID(id) == leadID(id+"0") {
		t.Errorf("derived ids: lead %s, contact %s; want stable per submission and distinct per table", leadID(id), contactID(id))
	}
}
