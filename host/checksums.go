package host

import (
	"fmt"

	"github.com/cloudbss/provisioning/host/catalog"
)

// verifyChecksums hashes every file the entry pins in its Checksums and
// reports the first that is unreadable or has another digest, wrapping
// [ErrChecksumMismatch]. go-plugin's own check (the entry's SHA256) covers
// only the launched file; an interpreted plugin runs others too.
//
// It runs before every start, so a file replaced while the plugin ran is
// caught at the next restart. The launched file's own row is also enforced
// on the bytes that run (see launchedPin); the others are read again by the
// interpreter, by path, so a file changed between this check and that read
// is not caught (keep plugin folders writable by root only).
func verifyChecksums(e catalog.Entry) error {
	for _, fc := range e.Checksums {
		got, err := fileSHA256(fc.Path)
		if err != nil {
			return fmt.Errorf("plugin %q: %w: %s is unreadable: %w", e.Name, ErrChecksumMismatch, fc.Path, err)
		}
		if got != fc.SHA256 {
			return fmt.Errorf("plugin %q: %w: %s has sha256 %s, the catalog requires %s", e.Name, ErrChecksumMismatch, fc.Path, got, fc.SHA256)
		}
	}
	return nil
}
