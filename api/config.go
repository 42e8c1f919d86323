package api

import (
	"fmt"
	"net"
	"time"
)

// Config is the read API's configuration (YAML section `api`).
type Config struct {
	// Listen is the API's own address (default ":8080"; "off" disables).
	// With no token configured the host is replaced by 127.0.0.1: an API
	// without authentication is reachable from this machine only.
	Listen string `yaml:"listen"`
	// ReadTokens are bearer tokens for the read routes (environment:
	// SEGSTREAM_API_READ_TOKENS, comma-separated). Never logged.
	ReadTokens []string `yaml:"read_tokens"`
	// AdminTokens are bearer tokens for every route, including preview,
	// PUT and DELETE of definitions (SEGSTREAM_API_ADMIN_TOKENS).
	AdminTokens []string `yaml:"admin_tokens"`
	// MaxBodyBytes refuses larger request bodies with 413 (default 65536).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxPage is the largest members page; larger limits are clamped
	// (default 1000).
	MaxPage int `yaml:"max_page"`
	// MaxPoints is the most points one sizes query returns (default 1000).
	MaxPoints int `yaml:"max_points"`
	// SizesInterval is how often the service samples every segment's size
	// into the size series (default 10s).
	SizesInterval time.Duration `yaml:"sizes_interval"`
	// PreviewSamples is how many sample members a preview returns
	// (default 10).
	PreviewSamples int `yaml:"preview_samples"`
}

// SetDefaults fills zero fields with the documented defaults.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.MaxPage == 0 {
		c.MaxPage = 1000
	}
	if c.MaxPoints == 0 {
		c.MaxPoints = 1000
	}
	if c.SizesInterval == 0 {
		c.SizesInterval = 10 * time.Second
	}
	if c.PreviewSamples == 0 {
		c.PreviewSamples = 10
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	if c.Listen != "off" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("api.listen: %q is not host:port (or \"off\")", c.Listen)
		}
	}
	for i, t := range c.ReadTokens {
		if len(t) < 16 {
			return fmt.Errorf("api.read_tokens[%d]: shorter than 16 characters", i)
		}
	}
	for i, t := range c.AdminTokens {
		if len(t) < 16 {
			return fmt.Errorf("api.admin_tokens[%d]: shorter than 16 characters", i)
		}
	}
	switch {
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("api.max_body_bytes: %d is below 1024", c.MaxBodyBytes)
	case c.MaxPage < 1 || c.MaxPage > 100000:
		return fmt.Errorf("api.max_page: %d is outside 1..100000", c.MaxPage)
	case c.MaxPoints < 1 || c.MaxPoints > 100000:
		return fmt.Errorf("api.max_points: %d is outside 1..100000", c.MaxPoints)
	case c.SizesInterval < 100*time.Millisecond:
		return fmt.Errorf("api.sizes_interval: %s is below 100ms", c.SizesInterval)
	case c.PreviewSamples < 0 || c.PreviewSamples > 1000:
		return fmt.Errorf("api.preview_samples: %d is outside 0..1000", c.PreviewSamples)
	}
	return nil
}

// Open tells whether no token is configured (every route is open, and
// the API listens on loopback only).
func (c *Config) Open() bool { return len(c.ReadTokens) == 0 && len(c.AdminTokens) == 0 }

// ListenAddr is the address to listen on: Listen, with the host replaced
// by 127.0.0.1 when no token is configured.
func (c *Config) ListenAddr() string {
	if !c.Open() {
		return c.Listen
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return c.Listen
	}
	return net.JoinHostPort("127.0.0.1", port)
}
