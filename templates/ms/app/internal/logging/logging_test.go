package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEntriesAreJSONLinesAtOrAboveTheLevel(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Info)
	log.now = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }
	log.Debug("hidden")
	log.Info("started", "port", 8080)
	log.Error("failed", "error", errors.New("boom"))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var first map[string]interface{}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["msg"] != "started" || first["level"] != "info" || first["port"] != float64(8080) ||
		first["time"] != "2024-01-02T03:04:05Z" {
		t.Errorf("unexpected entry %v", first)
	}
	if !strings.Contains(lines[1], `"error":"boom"`) {
		t.Errorf("error not logged as text: %s", lines[1])
	}
}

func TestParseLevel(t *testing.T) {
	for name, want := range map[string]Level{"debug": Debug, "INFO": Info, "warn": Warn, "error": Error} {
		got, err := ParseLevel(name)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel accepted an unknown level")
	}
}

func TestRequestsRecordsTheStatus(t *testing.T) {
	var buf bytes.Buffer
	handler := Requests(New(&buf, Debug), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/tea", nil))
	if !strings.Contains(buf.String(), `"status":418`) || !strings.Contains(buf.String(), `"path":"/tea"`) {
		t.Errorf("unexpected log: %s", buf.String())
	}
}
