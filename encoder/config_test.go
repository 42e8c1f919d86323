package encoder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	t.Setenv(EnvLibraryPath, "")
	var c Config
	c.SetDefaults()
	if c.ModelDir != DefaultModelDir || c.LibraryPath != DefaultLibraryPath || c.Provider != "cpu" ||
		c.MaxBatch != 64 || c.MaxWait != 5*time.Millisecond || c.Sessions != 1 || c.IntraOpThreads < 1 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	t.Setenv(EnvLibraryPath, "/opt/ort/libonnxruntime.so")
	var d Config
	d.SetDefaults()
	if d.LibraryPath != "/opt/ort/libonnxruntime.so" {
		t.Errorf("LibraryPath = %q, want the %s value", d.LibraryPath, EnvLibraryPath)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"cuda device 1", func(c *Config) { c.Provider, c.DeviceID = "cuda", 1 }, ""},
		{"no model dir", func(c *Config) { c.ModelDir = "" }, "encoder.model_dir"},
		{"no library", func(c *Config) { c.LibraryPath = "" }, "encoder.library_path"},
		{"unknown provider", func(c *Config) { c.Provider = "tpu" }, "encoder.provider"},
		{"negative device", func(c *Config) { c.Provider, c.DeviceID = "cuda", -1 }, "encoder.device_id"},
		{"device id on cpu", func(c *Config) { c.DeviceID = 2 }, "encoder.device_id"},
		{"zero threads", func(c *Config) { c.IntraOpThreads = -1 }, "encoder.intra_op_threads"},
		{"batch too big", func(c *Config) { c.MaxBatch = 100000 }, "encoder.max_batch"},
		{"negative wait", func(c *Config) { c.MaxWait = -time.Millisecond }, "encoder.max_wait"},
		{"wait too long", func(c *Config) { c.MaxWait = time.Minute }, "encoder.max_wait"},
		{"sessions", func(c *Config) { c.Sessions = 1000 }, "encoder.sessions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			c.SetDefaults()
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("want an ErrConfig naming %s, got %v", tc.field, err)
			}
		})
	}
}

func TestLoadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSpec(dir); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "setup.sh") {
		t.Errorf("missing spec.json: %v", err)
	}
	tests := []struct {
		name, spec, want string
	}{
		{"bad json", `{`, "spec.json"},
		{"unknown style", `{"model_version":"v","input_style":"x","output":"o","max_tokens":8,"dim":4}`, "input_style"},
		{"bert without mask", `{"model_version":"v","input_style":"bert","inputs":{"input_ids":"a"},"output":"o","output_kind":"token","pooling":"mean","max_tokens":8,"dim":4,"tokenizer":{"type":"wordpiece"}}`, "inputs"},
		{"bad pooling", `{"model_version":"v","input_style":"bert","inputs":{"input_ids":"a","attention_mask":"b"},"output":"o","output_kind":"token","pooling":"none","max_tokens":8,"dim":4,"tokenizer":{"type":"wordpiece"}}`, "pooling"},
		{"no version", `{"input_style":"bert","inputs":{"input_ids":"a","attention_mask":"b"},"output":"o","output_kind":"sentence","pooling":"none","max_tokens":8,"dim":4,"tokenizer":{"type":"wordpiece"}}`, "model_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "spec.json"), []byte(tc.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSpec(dir)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want ErrConfig naming %s, got %v", tc.want, err)
			}
		})
	}
}

func TestResolvePath(t *testing.T) {
	// From encoder/, the repo's testdata is found in the parent.
	p := resolvePath("testdata/encoder/all-minilm-l6-v2/tokenizer.json")
	if _, err := os.Stat(p); err != nil {
		t.Errorf("resolvePath did not find the repo's testdata from encoder/: %q", p)
	}
	if got := resolvePath("/abs/path"); got != "/abs/path" {
		t.Errorf("absolute path changed: %q", got)
	}
	if got := resolvePath("no/such/file"); got != "no/such/file" {
		t.Errorf("missing path changed: %q", got)
	}
}

func TestModelDir(t *testing.T) {
	for in, want := range map[string]string{
		"bge-small-zh-v15":        "var/models/bge-small-zh-v15",
		"use-lite":                "var/models/use-lite",
		"var/models/use-lite":     "var/models/use-lite",
		"/abs/model":              "/abs/model",
		"./local":                 "./local",
		"":                        "",
		"all-minilm-l6-v2-q":      "var/models/all-minilm-l6-v2-q",
		"../var/models/tiny-bert": "../var/models/tiny-bert",
	} {
		if got := ModelDir(in); got != want {
			t.Errorf("ModelDir(%q) = %q, want %q", in, got, want)
		}
	}
}
