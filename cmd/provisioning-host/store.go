package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/internal/logging"
)

// checkStoreFlag accepts an empty --store (SQLite in --data-dir) or a
// PostgreSQL connection string.
func checkStoreFlag(s string) error {
	if s == "" || isPostgres(s) {
		return nil
	}
	return errors.New("--store: want a PostgreSQL connection string (postgres://user@host:port/db?sslmode=...), or no --store for SQLite in --data-dir")
}

func isPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openStore opens PostgreSQL when dsn is set, else SQLite in dataDir. The
// connection string is never logged: it may hold a password.
func openStore(ctx context.Context, dsn, dataDir string, log *slog.Logger) (store.Store, error) {
	if dsn == "" {
		st, err := store.OpenSQLite(dataDir)
		if err == nil {
			log.Info("records in SQLite", "data_dir", dataDir)
		}
		return st, err
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			log.Warn("--store holds a password, which any local user can read in the process list; prefer PGPASSWORD or a password file (PGPASSFILE)")
		}
	}
	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		return nil, err
	}
	log.Info("records in PostgreSQL", "schema_version", store.SchemaVersion)
	return st, nil
}

// runMigrateStore is `provisioning-host migrate-store`: it copies every
// record of the SQLite store in --data-dir into the PostgreSQL store named
// by --store, then checks that the destination holds each of them as the
// source does. It is idempotent (a re-run rewrites the same records), so an
// interrupted copy is finished by running it again. Stop the daemon first:
// records written during the copy may be missed.
func runMigrateStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provisioning-host migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "data", "folder of the SQLite store to copy from")
	dsn := fs.String("store", "", "the PostgreSQL store to copy into (postgres://...); required")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: provisioning-host migrate-store --data-dir DIR --store postgres://...\n\n"+
			"Copies the sync and subscription records of the SQLite store in DIR into PostgreSQL\n"+
			"(migrating its schema first) and verifies the copy. Stop the daemon before.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dsn == "" || !isPostgres(*dsn) {
		fmt.Fprintln(stderr, "provisioning-host migrate-store: --store postgres://... is required")
		return 2
	}
	log, err := logging.New(*logFormat, "info", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "provisioning-host migrate-store:", err)
		return 2
	}
	src, err := store.OpenSQLite(*dataDir)
	if err != nil {
		log.Error("open the SQLite store", "error", err)
		return 1
	}
	defer src.Close()
	dst, err := openStore(ctx, *dsn, "", log)
	if err != nil {
		log.Error("open the PostgreSQL store", "error", err)
		return 1
	}
	defer dst.Close()
	n, err := store.Copy(ctx, dst, src)
	if err != nil {
		log.Error("copy the records", "copied", n, "error", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d sync records and %d subscription records into PostgreSQL; verified\n", n.Sync, n.Subscriptions)
	return 0
}
