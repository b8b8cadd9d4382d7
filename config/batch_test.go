package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
)

func TestWorkerBatching(t *testing.T) {
	c, err := config.LoadWorker(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 100 || c.BatchWrites != "bulk" || c.TaskSlots() != 800 || c.LimitWindow != 5*time.Minute {
		t.Errorf("defaults: BatchSize %d BatchWrites %q TaskSlots %d LimitWindow %s, want 100, bulk, 800, 5m", c.BatchSize, c.BatchWrites, c.TaskSlots(), c.LimitWindow)
	}
	c, err = config.LoadWorker(env(map[string]string{"LEADBRIDGE_BATCH_SIZE": "1", "LEADBRIDGE_WORKER_CONCURRENCY": "20", "LEADBRIDGE_BATCH_WRITES": "changesets", "LEADBRIDGE_DATAVERSE_LIMIT_WINDOW": "30s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 1 || c.BatchWrites != "changesets" || c.TaskSlots() != 20 || c.LimitWindow != 30*time.Second {
		t.Errorf("one at a time: BatchSize %d BatchWrites %q TaskSlots %d, want 1, changesets, 20", c.BatchSize, c.BatchWrites, c.TaskSlots())
	}
	for name, v := range map[string]string{"LEADBRIDGE_BATCH_SIZE": "0", "LEADBRIDGE_BATCH_WRITES": "multiple", "LEADBRIDGE_DATAVERSE_LIMIT_WINDOW": "500ms"} {
		_, err := config.LoadWorker(env(map[string]string{name: v}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming the variable", name, v, err)
		}
	}
}
