package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func probe(t *testing.T, h http.Handler) (int, Status) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var s Status
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, s
}

func TestLivenessIsAlwaysOK(t *testing.T) {
	if code, s := probe(t, Liveness()); code != http.StatusOK || s.Status != "ok" {
		t.Fatalf("got %d %+v", code, s)
	}
}

func TestReadinessFollowsTheServiceState(t *testing.T) {
	r := NewReadiness(time.Second)
	if code, _ := probe(t, r); code != http.StatusServiceUnavailable {
		t.Fatalf("not ready yet, but got %d", code)
	}
	r.SetReady(true)
	if code, s := probe(t, r); code != http.StatusOK || s.Status != "ok" {
		t.Fatalf("ready, but got %d %+v", code, s)
	}
	r.SetReady(false)
	if code, _ := probe(t, r); code != http.StatusServiceUnavailable {
		t.Fatalf("shutting down, but got %d", code)
	}
}

func TestReadinessReportsFailingChecks(t *testing.T) {
	r := NewReadiness(time.Second)
	r.SetReady(true)
	r.AddCheck("cache", func(context.Context) error { return nil })
	r.AddCheck("database", func(context.Context) error { return errors.New("connection refused") })
	code, s := probe(t, r)
	if code != http.StatusServiceUnavailable || s.Status != "unavailable" {
		t.Fatalf("got %d %+v", code, s)
	}
	if s.Checks["database"] != "connection refused" || len(s.Checks) != 1 {
		t.Errorf("checks %v", s.Checks)
	}
}

func TestChecksAreBoundedByTheTimeout(t *testing.T) {
	r := NewReadiness(10 * time.Millisecond)
	r.SetReady(true)
	r.AddCheck("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if code, _ := probe(t, r); code != http.StatusServiceUnavailable {
		t.Fatalf("got %d", code)
	}
}
