package e2e

import (
	"testing"
	"time"
)

// BenchmarkDeliveryThroughput measures submissions posted to the API until
// every one is a lead in the emulator: intake, queue, dedupe query, create,
// contact link — with the emulator's default limits and 2 workers × 20.
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, form := range []string{"quick", "demo"} {
		b.Run(form, func(b *testing.B) {
			b.StopTimer()
			s := startStack(b, options{config: noContactForm + leadForm("demo", "link"), workers: 2,
				env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "20", "LEADBRIDGE_LOG_LEVEL": "warn"}})
			b.StartTimer()
			ids := s.submitMany(form, b.N, b.N, 32)
			s.waitAllDelivered(ids, 10*time.Minute)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leads/s")
			st := s.Emu.Stats()
			b.ReportMetric(float64(st.RequestsTotal)/float64(b.N), "dataverse-req/lead")
		})
	}
}
