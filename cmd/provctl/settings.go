package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudbss/provisioning/host/catalog"
)

// maxSettingsBytes bounds a settings file.
const maxSettingsBytes = 1 << 20

// localEntry builds the one-entry catalog of local mode: the plugin binary
// and its settings from a YAML or JSON map (JSON is YAML). Values written
// "env:NAME" or "file:PATH" are read exactly as the host catalog reads them
// (through catalog.Parse), with file: paths relative to the settings file.
// Errors name keys and sources, never values.
func localEntry(name, pluginPath, settingsPath string) (catalog.Entry, error) {
	raw, err := readSettings(settingsPath)
	if err != nil {
		return catalog.Entry{}, err
	}
	absPlugin, err := filepath.Abs(pluginPath)
	if err != nil {
		return catalog.Entry{}, usageError{fmt.Errorf("--plugin: %w", err)}
	}
	if fi, err := os.Stat(absPlugin); err != nil {
		return catalog.Entry{}, usageError{fmt.Errorf("--plugin: %w", err)}
	} else if !fi.Mode().IsRegular() {
		return catalog.Entry{}, usagef("--plugin %s is not a file", pluginPath)
	}
	absSettings, err := filepath.Abs(settingsPath)
	if err != nil {
		return catalog.Entry{}, usageError{fmt.Errorf("--settings: %w", err)}
	}
	type entry struct {
		Name     string            `yaml:"name"`
		Path     string            `yaml:"path"`
		Settings map[string]string `yaml:"settings"`
	}
	doc, err := yaml.Marshal(struct {
		Plugins []entry `yaml:"plugins"`
	}{[]entry{{Name: name, Path: absPlugin, Settings: raw}}})
	if err != nil {
		return catalog.Entry{}, fmt.Errorf("settings: %w", err)
	}
	cfg, err := catalog.Parse(doc, filepath.Dir(absSettings))
	if err != nil {
		return catalog.Entry{}, usagef("--settings %s: %v", settingsPath, strings.TrimPrefix(err.Error(), catalog.ErrInvalid.Error()+": "))
	}
	e, ok := cfg.Entry(name)
	if !ok {
		return catalog.Entry{}, fmt.Errorf("settings: the catalog lost plugin %q", name)
	}
	return e, nil
}

// readSettings reads a flat map of settings. Scalars (numbers, booleans)
// become their text; nested values are an error.
func readSettings(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--settings: %w", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSettingsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read settings %s: %w", path, err)
	}
	if len(data) > maxSettingsBytes {
		return nil, usagef("--settings %s: larger than %d bytes", path, maxSettingsBytes)
	}
	return parseSettings(data, path)
}

// yamlQuoted matches what yaml errors quote of a document's content.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

func parseSettings(data []byte, name string) (map[string]string, error) {
	var raw map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		// yaml's type errors quote the start of the value ("cannot
		// unmarshal !!str `hunter2...`"), which may be a secret: drop it.
		return nil, usagef("--settings %s: want a map of setting names to values: %s", name, yamlQuoted.ReplaceAllString(err.Error(), "`…`"))
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = v
		case bool, int, int64, uint64, float64:
			out[k] = fmt.Sprint(v)
		default:
			return nil, usagef("--settings %s: setting %q: want a string, number or boolean", name, k)
		}
	}
	return out, nil
}

// pluginNameFromPath guesses a plugin's name from its binary,
// provisioning-plugin-NAME, as the host's directory scan does.
func pluginNameFromPath(path string) (string, bool) {
	base := strings.TrimSuffix(filepath.Base(path), ".exe")
	name, ok := strings.CutPrefix(base, catalog.BinaryPrefix)
	return name, ok && name != ""
}
