package e2e

import (
	"strings"
	"testing"
)

// Workers deliver in batches by default (LEADBRIDGE_BATCH_SIZE 100). The
// delivery tests run that way under their own names, and once more one
// submission at a time under TestOneAtATime: startStack sets
// LEADBRIDGE_BATCH_SIZE=1 for every test below it.
func TestOneAtATime(t *testing.T) {
	for name, fn := range map[string]func(*testing.T){
		"ConcurrentSubmissionsMakeOneLeadPerPerson":   TestConcurrentSubmissionsMakeOneLeadPerPerson,
		"ThrottlingIsWaitedOutExactly":                TestThrottlingIsWaitedOutExactly,
		"OutageIsRetriedNotFailed":                    TestOutageIsRetriedNotFailed,
		"RefusedDataGoesToFailedListAndRetryDelivers": TestRefusedDataGoesToFailedListAndRetryDelivers,
		"ShortLivedTokensNeverFailARequest":           TestShortLivedTokensNeverFailARequest,
		"KilledWorkerLosesNothing":                    TestKilledWorkerLosesNothing,
		"LostAnswersMakeNoDuplicates":                 TestLostAnswersMakeNoDuplicates,
	} {
		t.Run(name, fn)
	}
}

// oneAtATime reports whether t runs under TestOneAtATime.
func oneAtATime(t testing.TB) bool { return strings.HasPrefix(t.Name(), "TestOneAtATime/") }
