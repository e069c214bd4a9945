// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by PROVISIONING_TEST_POSTGRES, so tests that run in parallel (and
// several packages' test binaries at once) never see each other's tables.
// Without the variable, tests that need PostgreSQL skip with a message that
// says how to run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test server's connection string, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. `make
// postgres-up` starts a throwaway server and prints it; .ci/run sets it.
const EnvDSN = "PROVISIONING_TEST_POSTGRES"

// DSN returns the test server's connection string, or skips tb when
// PROVISIONING_TEST_POSTGRES is unset.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		tb.Skipf("PostgreSQL test skipped: set %s to a server's connection string (make postgres-up starts one)", EnvDSN)
	}
	return dsn
}

// Schema creates a fresh schema on the test server, drops it (and all it
// holds) when tb ends, and returns a connection string whose search_path is
// that schema. It skips tb when PROVISIONING_TEST_POSTGRES is unset.
func Schema(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, drop, err := CreateSchema(ctx, DSN(tb))
	if err != nil {
		tb.Fatalf("%s: %v", EnvDSN, err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Error(err)
		}
	})
	return out
}

// CreateSchema creates a fresh schema on the server of dsn and returns a
// connection string whose search_path is that schema, and the function that
// drops it with all it holds (for the load scenarios, which are no tests).
func CreateSchema(ctx context.Context, dsn string) (string, func() error, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		return nil
	}
	return WithSearchPath(dsn, name), drop, nil
}

// WithSearchPath returns dsn (a URL or a keyword/value string) with its
// search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}
