package delivery

import (
	"crypto/sha1"
	"fmt"
)

// idNamespace is the UUID namespace of the primary keys leadbridge derives
// for the rows it creates (a random UUID, fixed once:
// db8b8c8f-c26a-4c87-8c7a-e2bcd55e3125).
var idNamespace = [16]byte{0xdb, 0x8b, 0x8c, 0x8f, 0xc2, 0x6a, 0x4c, 0x87, 0x8c, 0x7a, 0xe2, 0xbc, 0xd5, 0x5e, 0x31, 0x25}

// leadID and contactID are the primary keys of the lead and the contact a
// submission creates: name-based UUIDs (version 5, RFC 9562) of
// "<submission id>/lead" and "<submission id>/contact". Every attempt of a
// submission creates with the same keys, so when Dataverse commits a
// create and its answer is lost, the retry finds the row by its key instead
// of creating a second one — and nothing else can own that key.
func leadID(submissionID string) string    { return uuid5(idNamespace, submissionID+"/lead") }
func contactID(submissionID string) string { return uuid5(idNamespace, submissionID+"/contact") }

// noteID and accountID are the keys of the note a submission keeps on its
// row and of the account it creates when its form says so: derived the
// same way, so that a retried delivery finds them instead of adding more.
func noteID(submissionID string) string    { return uuid5(idNamespace, submissionID+"/note") }
func accountID(submissionID string) string { return uuid5(idNamespace, submissionID+"/account") }

// uuid5 is the version 5 UUID of name in namespace ns, in the lower-case
// form Dataverse answers with.
func uuid5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
