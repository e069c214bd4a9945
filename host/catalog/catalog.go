package catalog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// BinaryPrefix is the file-name prefix of plugin binaries found by a
// directory scan: provisioning-plugin-NAME is the plugin NAME.
const BinaryPrefix = "provisioning-plugin-"

// ErrInvalid is wrapped by every error about the content of a catalog (as
// opposed to an unreadable file).
var ErrInvalid = errors.New("invalid plugin catalog")

// Entry is one plugin of the catalog, with every path absolute and every
// setting resolved.
type Entry struct {
	// Name is the plugin's name: a DNS label ([a-z][a-z0-9-]*, at most 63
	// characters). The plugin must report the same name in GetPluginInfo,
	// or the host refuses it. Callers address the plugin by this name.
	Name string
	// Path is the absolute path of the plugin binary. A relative path in the
	// file is resolved against the folder of the file.
	Path string
	// SHA256 is the expected SHA-256 of the binary, lowercase hex, or empty.
	// When set, the host refuses to start a binary with another digest.
	// It covers the launched file only: for a script, see Checksums.
	SHA256 string
	// Checksums pin every file a plugin runs, not only the one the host
	// launches: an interpreted plugin's modules and generated code, its
	// interpreter. The host checks each before every start and refuses to
	// start the plugin on a mismatch. Files not listed (libraries the
	// interpreter finds elsewhere, caches it prefers to the source) are not
	// covered.
	Checksums []FileChecksum
	// KillTimeout is how long the host waits, after SIGTERM, for the plugin
	// to drain its calls and exit before it kills the process group. Zero:
	// the host's default (5s). Keep it above the plugin's own grace period.
	KillTimeout time.Duration
	// Args are extra command-line arguments for the plugin process.
	Args []string
	// Env holds environment variables for the plugin process. The plugin
	// inherits only an allowlist of the host's environment (PATH, HOME,
	// TMPDIR, locale, TZ, the protocol's variables: see plugin.WithEnv);
	// these win over it. Values are taken literally.
	Env map[string]string
	// Settings is what the host passes to the plugin's Configure RPC, with
	// every "env:NAME" and "file:PATH" value already read. Values may be
	// secrets: never log them.
	Settings map[string]string
	// ServiceManager holds the credentials a BSS must present to call this
	// plugin's interworks Service Management endpoint, or nil when the
	// entry has none (the endpoint then refuses every call for the plugin).
	ServiceManager *ServiceManager
}

// FileChecksum pins one file of a plugin.
type FileChecksum struct {
	// Path is absolute; a relative path in the file is resolved against the
	// folder of the file.
	Path string
	// SHA256 is the file's expected SHA-256, lowercase hex.
	SHA256 string
}

// ServiceManager is the caller authentication of one plugin's interworks
// Service Management endpoint: the Application Id and API Key that
// interworks Cloud BSS generates when the application is registered and
// sends on every call (X-CloudPlatform-ApplicationId,
// X-CloudPlatform-APIKey).
type ServiceManager struct {
	// ApplicationID identifies the calling BSS installation. Not secret, but
	// compared in constant time with the key.
	ApplicationID string
	// APIKey is a secret: never log it. "env:NAME" and "file:PATH" in the
	// file are already read.
	APIKey string
}

// String hides the key, so that printing an entry never shows it.
func (s ServiceManager) String() string {
	return fmt.Sprintf("{ApplicationID:%s APIKey:[redacted]}", s.ApplicationID)
}

// GoString hides the key from %#v too.
func (s ServiceManager) GoString() string { return s.String() }

// Config is a parsed catalog.
type Config struct {
	// Plugins are the catalog entries: those listed in the file, then the
	// binaries found in PluginDir that no listed entry names, ordered by
	// name. Names are unique.
	Plugins []Entry
	// RequireChecksums makes every entry without an SHA256 or Checksums an
	// error, so that the host only ever runs files whose digest the operator
	// pinned.
	RequireChecksums bool
	// PluginDir is the absolute path of the scanned plugin directory, or
	// empty. An entry listed with a name but no path runs
	// PluginDir/provisioning-plugin-NAME.
	PluginDir string
}

// Entry returns the entry named name.
func (c *Config) Entry(name string) (Entry, bool) {
	for _, e := range c.Plugins {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// file is the YAML shape. Field names are the file's keys.
type file struct {
	// RequireChecksums: see Config.RequireChecksums.
	RequireChecksums bool `yaml:"require_checksums"`
	// PluginDir: a folder scanned for provisioning-plugin-* binaries.
	PluginDir string      `yaml:"plugin_dir"`
	Plugins   []fileEntry `yaml:"plugins"`
}

type fileEntry struct {
	Name        string            `yaml:"name"`
	Path        string            `yaml:"path"`
	SHA256      string            `yaml:"sha256"`
	Checksums   []fileChecksum    `yaml:"checksums"`
	KillTimeout string            `yaml:"kill_timeout"`
	Args        []string          `yaml:"args"`
	Env         map[string]string `yaml:"env"`
	Settings    map[string]string `yaml:"settings"`
	// ServiceManager: see Entry.ServiceManager. Both values accept env: and
	// file: references.
	ServiceManager *fileServiceManager `yaml:"service_manager"`
}

type fileChecksum struct {
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
}

type fileServiceManager struct {
	ApplicationID string `yaml:"application_id"`
	APIKey        string `yaml:"api_key"`
}

// Load reads and parses the catalog file at path. Relative paths inside it
// (plugin paths, plugin_dir, file: settings) resolve against the file's
// folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plugin catalog: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read plugin catalog: %w", err)
	}
	cfg, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// yamlQuoted matches what yaml errors quote of a document's content.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// Parse parses a catalog document. baseDir is the folder relative paths
// resolve against (the file's folder; the working directory if empty).
// Unknown keys, duplicate or malformed names, malformed digests and
// unresolvable settings are errors wrapping [ErrInvalid].
func Parse(data []byte, baseDir string) (*Config, error) {
	if baseDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("parse plugin catalog: %w", err)
		}
		baseDir = wd
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		// yaml's type errors quote the start of the value ("cannot
		// unmarshal !!str `hunter2...`"), which may be a secret: drop it.
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlQuoted.ReplaceAllString(err.Error(), "`…`"))
	}
	// A second document would be silently ignored; refuse it instead.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: only one YAML document is allowed", ErrInvalid)
	}

	cfg := &Config{RequireChecksums: f.RequireChecksums}
	if f.PluginDir != "" {
		cfg.PluginDir = resolve(baseDir, f.PluginDir)
	}
	seen := map[string]bool{}
	for i, fe := range f.Plugins {
		e, err := fe.entry(baseDir, cfg.PluginDir)
		if err != nil {
			return nil, fmt.Errorf("%w: plugins[%d]: %w", ErrInvalid, i, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("%w: plugins[%d]: plugin %q is listed twice", ErrInvalid, i, e.Name)
		}
		seen[e.Name] = true
		cfg.Plugins = append(cfg.Plugins, e)
	}
	if cfg.PluginDir != "" {
		found, err := Scan(cfg.PluginDir)
		if err != nil {
			return nil, err
		}
		for _, e := range found {
			if !seen[e.Name] {
				seen[e.Name] = true
				cfg.Plugins = append(cfg.Plugins, e)
			}
		}
	}
	sort.SliceStable(cfg.Plugins, func(i, j int) bool { return cfg.Plugins[i].Name < cfg.Plugins[j].Name })
	if cfg.RequireChecksums {
		for _, e := range cfg.Plugins {
			if e.SHA256 == "" && len(e.Checksums) == 0 {
				return nil, fmt.Errorf("%w: plugin %q has no sha256 or checksums and require_checksums is set", ErrInvalid, e.Name)
			}
		}
	}
	return cfg, nil
}

func (fe fileEntry) entry(baseDir, pluginDir string) (Entry, error) {
	if !nameRE.MatchString(fe.Name) {
		return Entry{}, fmt.Errorf("name %q is not a DNS label ([a-z][a-z0-9-]*, at most 63 characters)", fe.Name)
	}
	e := Entry{Name: fe.Name, Args: slices.Clone(fe.Args)}
	switch {
	case fe.Path != "":
		e.Path = resolve(baseDir, fe.Path)
	case pluginDir != "":
		e.Path = filepath.Join(pluginDir, BinaryPrefix+fe.Name)
	default:
		return Entry{}, fmt.Errorf("plugin %q: path is required (or set plugin_dir)", fe.Name)
	}
	if fe.SHA256 != "" {
		sum, err := parseDigest(fe.SHA256)
		if err != nil {
			return Entry{}, fmt.Errorf("plugin %q: sha256 %w", fe.Name, err)
		}
		e.SHA256 = sum
	}
	for i, fc := range fe.Checksums {
		if fc.Path == "" {
			return Entry{}, fmt.Errorf("plugin %q: checksums[%d]: path is required", fe.Name, i)
		}
		sum, err := parseDigest(fc.SHA256)
		if err != nil {
			return Entry{}, fmt.Errorf("plugin %q: checksums[%d]: sha256 %w", fe.Name, i, err)
		}
		e.Checksums = append(e.Checksums, FileChecksum{Path: resolve(baseDir, fc.Path), SHA256: sum})
	}
	if fe.KillTimeout != "" {
		d, err := time.ParseDuration(fe.KillTimeout)
		if err != nil || d <= 0 {
			return Entry{}, fmt.Errorf("plugin %q: kill_timeout %q is not a positive duration (such as 10s)", fe.Name, fe.KillTimeout)
		}
		e.KillTimeout = d
	}
	if len(fe.Env) > 0 {
		e.Env = make(map[string]string, len(fe.Env))
		for k, v := range fe.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return Entry{}, fmt.Errorf("plugin %q: env name %q is not valid", fe.Name, k)
			}
			e.Env[k] = v
		}
	}
	e.Settings = make(map[string]string, len(fe.Settings))
	for k, v := range fe.Settings {
		if k == "" {
			return Entry{}, fmt.Errorf("plugin %q: a setting has an empty key", fe.Name)
		}
		rv, err := resolveValue(baseDir, v)
		if err != nil {
			// The error names the key and the source, never the value.
			return Entry{}, fmt.Errorf("plugin %q: setting %q: %w", fe.Name, k, err)
		}
		e.Settings[k] = rv
	}
	if sm := fe.ServiceManager; sm != nil {
		id, err := resolveValue(baseDir, sm.ApplicationID)
		if err != nil {
			return Entry{}, fmt.Errorf("plugin %q: service_manager.application_id: %w", fe.Name, err)
		}
		key, err := resolveValue(baseDir, sm.APIKey)
		if err != nil {
			return Entry{}, fmt.Errorf("plugin %q: service_manager.api_key: %w", fe.Name, err)
		}
		// An empty value would let a caller that sends no header in.
		if strings.TrimSpace(id) == "" || strings.TrimSpace(key) == "" {
			return Entry{}, fmt.Errorf("plugin %q: service_manager needs both application_id and api_key", fe.Name)
		}
		e.ServiceManager = &ServiceManager{ApplicationID: id, APIKey: key}
	}
	return e, nil
}

// parseDigest normalizes a SHA-256 written in hex.
func parseDigest(s string) (string, error) {
	sum := strings.ToLower(strings.TrimSpace(s))
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return "", errors.New("must be 64 hex digits")
	}
	return sum, nil
}

// resolveValue reads "env:NAME" and "file:PATH" values. Errors name the
// variable or file, never a value.
func resolveValue(baseDir, v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		if name == "" {
			return "", errors.New("env: needs a variable name")
		}
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return val, nil
	case strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if p == "" {
			return "", errors.New("file: needs a path")
		}
		p = resolve(baseDir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return "", fmt.Errorf("read %s: %w", p, pe.Err)
			}
			return "", fmt.Errorf("read %s: %w", p, err)
		}
		// Secret files usually end with a newline an editor added.
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return v, nil
}

func resolve(baseDir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(baseDir, p)
}

// Scan lists the executable regular files named provisioning-plugin-NAME in
// dir as entries named NAME, ordered by name, without settings. Files whose
// NAME is not a valid plugin name are skipped.
func Scan(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scan plugin directory: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name, ok := strings.CutPrefix(de.Name(), BinaryPrefix)
		if !ok || !nameRE.MatchString(name) {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, de.Name()))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, Entry{Name: name, Path: filepath.Join(dir, de.Name()), Settings: map[string]string{}})
	}
	return out, nil
}
