package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// Rows kept across restarts (Options.Persist), so that the leads `make run`
// delivered are still on the emulator's page after a restart. The tables
// are written whole, as JSON, to a temporary file that is then renamed over
// rowsFile: a crash leaves the previous file or the new one, never half of
// one. Writes follow changes at most once per saveInterval, and Close writes
// the last ones.

const (
	rowsFile     = "rows.json"
	rowsFormat   = 1
	saveInterval = time.Second
)

// savedRows is the file's content: every table's rows in creation order,
// and the counters new rows continue from.
type savedRows struct {
	Format  int                   `json:"format"`
	Seq     int64                 `json:"seq"`
	Version int64                 `json:"version"`
	Tables  map[string][]savedRow `json:"tables"`
}

type savedRow struct {
	Seq     int64          `json:"seq"`
	Version int64          `json:"version"`
	Cols    map[string]any `json:"cols"`
}

// snapshot copies what a save writes, and the change count it reflects.
// Records never change once stored, so the copy is of pointers only.
func (st *store) snapshot() (savedRows, uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := savedRows{Format: rowsFormat, Seq: st.seq, Version: st.version, Tables: map[string][]savedRow{}}
	for set, t := range st.tables {
		rows := make([]savedRow, 0, len(t.rows))
		t.scan(func(r *record) bool {
			rows = append(rows, savedRow{Seq: r.seq, Version: r.version, Cols: r.cols})
			return true
		})
		out.Tables[set] = rows
	}
	return out, st.gen
}

// load puts saved rows into an empty store. Tables the schema no longer has
// are skipped and named in the result, for the log. The caller defines the
// alternate keys afterwards, which checks the rows against them.
func (st *store) load(saved savedRows) (skipped []string, err error) {
	if saved.Format != rowsFormat {
		return nil, fmt.Errorf("format %d, want %d", saved.Format, rowsFormat)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for set, rows := range saved.Tables {
		t := st.tables[set]
		if t == nil {
			skipped = append(skipped, set)
			continue
		}
		for i, row := range rows {
			id, _ := row.Cols[t.schema.pk].(string)
			if !odata.IsGUID(id) || t.get(id) != nil {
				return nil, fmt.Errorf("tables.%s[%d]: %s %q is not a new GUID", set, i, t.schema.pk, id)
			}
			t.put(nil, &record{seq: row.Seq, version: row.Version, cols: row.Cols})
			st.seq = max(st.seq, row.Seq)
			st.version = max(st.version, row.Version)
		}
	}
	st.seq = max(st.seq, saved.Seq)
	st.version = max(st.version, saved.Version)
	return skipped, nil
}

// persister writes the store to path after changes, at most once per
// interval, from its own goroutine.
type persister struct {
	path     string
	st       *store
	log      *slog.Logger
	interval time.Duration

	kick chan struct{} // a change happened (buffered: one pending is enough)
	stop chan struct{}
	done chan struct{}

	saveMu   sync.Mutex // one save at a time, in the order snapshots are taken
	savedGen uint64     // the change count last written; guarded by saveMu
}

// loadRows reads path into the empty store st; a missing file is an empty
// store.
func loadRows(st *store, path string, log *slog.Logger) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var saved savedRows
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("%s: %w (delete the file to start empty)", path, err)
	}
	skipped, err := st.load(saved)
	if err != nil {
		return fmt.Errorf("%s: %w (delete the file to start empty)", path, err)
	}
	for _, set := range skipped {
		log.Warn("emulator rows file holds a table the emulator does not have; its rows are dropped", "file", path, "table", set)
	}
	return nil
}

// startPersister begins saving st to path after each change.
func startPersister(st *store, path string, log *slog.Logger) *persister {
	p := &persister{
		path: path, st: st, log: log, interval: saveInterval,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	st.mu.Lock()
	p.savedGen = st.gen // what was just loaded is on disk already
	st.notify = func() {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	st.mu.Unlock()
	go p.run()
	return p
}

func (p *persister) run() {
	defer close(p.done)
	var last time.Time
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		}
		// A change after a quiet spell is saved at once; the ones that
		// follow within the interval wait for its end and share one save.
		if wait := time.Until(last.Add(p.interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-p.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		if err := p.save(); err != nil {
			p.log.Error("emulator could not save its rows", "file", p.path, "err", err)
		}
		last = time.Now()
	}
}

// save writes the store if it changed since the last save.
func (p *persister) save() error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	snap, gen := p.st.snapshot()
	if gen == p.savedGen {
		return nil
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode rows: %w", err)
	}
	if err := writeFileAtomic(p.path, b); err != nil {
		return err
	}
	p.savedGen = gen
	return nil
}

// close stops the saver and writes what changed since its last save.
func (p *persister) close() error {
	close(p.stop)
	<-p.done
	if err := p.save(); err != nil {
		return fmt.Errorf("emulator: save rows: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with b: written to a temporary file in the
// same folder, synced, then renamed over it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
