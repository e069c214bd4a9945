package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestSQLiteFileMode: the database holds names, emails and phones: it and
// its -wal and -shm files are 0600 whatever the umask, whether the
// directory existed or not, and a file left 0644 by an older version is
// tightened at open.
func TestSQLiteFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	tests := map[string]func(dir string){
		"new directory":      func(string) {},
		"existing directory": func(dir string) { _ = os.MkdirAll(dir, 0o755) },
		"0644 database": func(dir string) {
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, "sync-records.db"), nil, 0o644)
			_ = os.Chmod(filepath.Join(dir, "sync-records.db"), 0o644)
		},
	}
	for name, prepare := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			prepare(dir)
			st, err := store.OpenSQLite(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Put(ctx, rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"sync-records.db", "sync-records.db-wal", "sync-records.db-shm"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				if m := fi.Mode().Perm(); m != 0o600 {
					t.Errorf("%s mode %v, want 0600", f, m)
				}
			}
		})
	}
}
