// Package config reads the service's settings from environment variables.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LogLevels are the accepted values of LOG_LEVEL, from the most to the least verbose.
var LogLevels = []string{"debug", "info", "warn", "error"}

// Config holds the service's settings.
type Config struct {
	// Port is the TCP port the HTTP server listens on (PORT).
	Port int
	// LogLevel is one of LogLevels (LOG_LEVEL).
	LogLevel string
	// ShutdownTimeout bounds the graceful shutdown after SIGTERM (SHUTDOWN_TIMEOUT, a Go
	// duration such as "10s").
	ShutdownTimeout time.Duration
}

// Load reads the settings through lookup (os.LookupEnv in production) and falls back to
// defaults for variables that are not set. It reports every invalid variable at once.
func Load(lookup func(string) (string, bool), defaults Config) (Config, error) {
	cfg := defaults
	var problems []string

	if v, ok := lookup("PORT"); ok && v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 1 || port > 65535 {
			problems = append(problems, fmt.Sprintf("PORT=%q is not a port number (1-65535)", v))
		} else {
			cfg.Port = port
		}
	}

	if v, ok := lookup("LOG_LEVEL"); ok && v != "" {
		level := strings.ToLower(v)
		if !contains(LogLevels, level) {
			problems = append(problems, fmt.Sprintf("LOG_LEVEL=%q is not one of %s", v, strings.Join(LogLevels, ", ")))
		} else {
			cfg.LogLevel = level
		}
	}

	if v, ok := lookup("SHUTDOWN_TIMEOUT"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("SHUTDOWN_TIMEOUT=%q is not a positive duration (like 10s)", v))
		} else {
			cfg.ShutdownTimeout = d
		}
	}

	if len(problems) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
