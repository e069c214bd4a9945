package panda

import (
	"os"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkJournalIntend is the journal's cost per create as 32 concurrent
// Synchronize calls see it (16 goroutines per core on a two-core machine):
// durable intents in a file journal, each for a new account. syncs/op is
// the appended lines' fsyncs per intent (a compaction's are not counted).
func BenchmarkJournalIntend(b *testing.B) {
	benchmarkJournal(b, false)
}

// BenchmarkJournalIntendCreated adds the created line that follows each
// create: the journal's whole cost per new account.
func BenchmarkJournalIntendCreated(b *testing.B) {
	benchmarkJournal(b, true)
}

func benchmarkJournal(b *testing.B, created bool) {
	j := &journal{}
	if err := j.open(b.TempDir(), nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.file.close() })
	var syncs atomic.Int64
	j.file.sync = func(f *os.File) error {
		syncs.Add(1)
		return f.Sync()
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "B-" + strconv.FormatInt(n.Add(1), 10)
			if err := j.intend(id, testIntent); err != nil {
				b.Error(err)
				return
			}
			if created {
				j.created(id, "ACC-"+id)
			}
		}
	})
	b.ReportMetric(float64(syncs.Load())/float64(b.N), "syncs/op")
}
