package flood

import "testing"

func TestParseInfoMemory(t *testing.T) {
	m, err := parseInfoMemory("# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:4194304\r\nmaxmemory_policy:noeviction\r\n")
	if err != nil || m != (Memory{Used: 1 << 20, Max: 4 << 20}) {
		t.Fatalf("got %+v, %v; want used 1 MiB of 4 MiB", m, err)
	}
	for _, in := range []string{"", "# Memory\r\nmaxmemory:0\r\n", "used_memory:lots\r\n"} {
		if _, err := parseInfoMemory(in); err == nil {
			t.Errorf("parseInfoMemory(%q): nil error, want one", in)
		}
	}
}
