package config

import (
	"strings"
	"testing"
	"time"
)

var defaults = Config{Port: 8080, LogLevel: "info", ShutdownTimeout: 10 * time.Second}

func env(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestDefaultsApplyWhenNothingIsSet(t *testing.T) {
	cfg, err := Load(env(nil), defaults)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != defaults {
		t.Fatalf("got %+v, want %+v", cfg, defaults)
	}
}

func TestVariablesOverrideDefaults(t *testing.T) {
	cfg, err := Load(env(map[string]string{"PORT": "9000", "LOG_LEVEL": "DEBUG", "SHUTDOWN_TIMEOUT": "3s"}), defaults)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Port: 9000, LogLevel: "debug", ShutdownTimeout: 3 * time.Second}
	if cfg != want {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}
}

func TestEveryInvalidVariableIsReported(t *testing.T) {
	_, err := Load(env(map[string]string{"PORT": "70000", "LOG_LEVEL": "loud", "SHUTDOWN_TIMEOUT": "soon"}), defaults)
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, name := range []string{"PORT", "LOG_LEVEL", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %s", err, name)
		}
	}
}
