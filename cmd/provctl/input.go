package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// maxAccountBytes bounds an account file: an account is a few hundred bytes,
// so anything near this is the wrong file.
const maxAccountBytes = 1 << 20

// maxBatchLine bounds one line of a sync-batch file.
const maxBatchLine = 1 << 20

// decodeAccount reads one account in protojson (proto field names such as
// "corporate_email" or their JSON names; enum values by name, e.g.
// "ACCOUNT_TYPE_RESELLER"). Unknown fields are an error: a typo must not
// silently drop a value.
func decodeAccount(data []byte) (*provisioningv1.Account, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty account: want a JSON object such as {\"id\": \"C-1\", \"type\": \"ACCOUNT_TYPE_CUSTOMER\"}")
	}
	acc := &provisioningv1.Account{}
	if err := protojson.Unmarshal(data, acc); err != nil {
		return nil, fmt.Errorf("not an account: %w", err)
	}
	return acc, nil
}

// readAccount reads the account file at path, or stdin for "-".
func readAccount(path string, stdin io.Reader) (*provisioningv1.Account, error) {
	if path == "" {
		return nil, usagef("no account: pass --account FILE (or - for stdin)")
	}
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxAccountBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", displayPath(path), err)
	}
	if len(data) > maxAccountBytes {
		return nil, usagef("account %s: larger than %d bytes", displayPath(path), maxAccountBytes)
	}
	acc, err := decodeAccount(data)
	if err != nil {
		return nil, usagef("account %s: %v", displayPath(path), err)
	}
	return acc, nil
}

func displayPath(path string) string {
	if path == "-" {
		return "(stdin)"
	}
	return path
}

// parseValues turns repeated --set key=value flags into a map. The value may
// contain '='; a key may be set once.
func parseValues(sets []string) (map[string]string, error) {
	if len(sets) == 0 {
		return nil, nil
	}
	values := make(map[string]string, len(sets))
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--set %q: want key=value", kv)
		}
		if _, dup := values[k]; dup {
			return nil, usagef("--set %s: given twice", k)
		}
		values[k] = v
	}
	return values, nil
}

// batchReader streams a sync-batch file: one JSON object per line,
// {"account": {...}, "values": {...}} (optionally "ancestors"), the protojson
// form of host.v1.BatchItem. Blank lines and lines starting with '#' are
// skipped. Only one line is held at a time.
type batchReader struct {
	sc   *bufio.Scanner
	name string
	line int
}

func newBatchReader(r io.Reader, name string) *batchReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchLine)
	return &batchReader{sc: sc, name: name}
}

// lineError is a malformed line of a batch file. The rest of the file can
// still be read.
type lineError struct {
	name string
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.name, e.line, e.err) }

// Next returns the next item, or io.EOF after the last one. A malformed line
// is a *lineError; reading may go on after it.
func (br *batchReader) Next() (*hostv1.BatchItem, error) {
	for br.sc.Scan() {
		br.line++
		line := bytes.TrimSpace(br.sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		item, err := decodeBatchItem(line)
		if err != nil {
			return nil, &lineError{name: br.name, line: br.line, err: err}
		}
		return item, nil
	}
	if err := br.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, usagef("%s:%d: line longer than %d bytes", br.name, br.line+1, maxBatchLine)
		}
		return nil, fmt.Errorf("read %s: %w", br.name, err)
	}
	return nil, io.EOF
}

// decodeBatchItem reads one batch line.
func decodeBatchItem(line []byte) (*hostv1.BatchItem, error) {
	item := &hostv1.BatchItem{}
	if err := protojson.Unmarshal(line, item); err != nil {
		return nil, fmt.Errorf("not a batch item {\"account\": {...}, \"values\": {...}}: %w", err)
	}
	if item.GetAccount() == nil {
		return nil, errors.New("no \"account\"")
	}
	if item.GetAccount().GetId() == "" {
		return nil, errors.New("account has no \"id\"")
	}
	return item, nil
}
