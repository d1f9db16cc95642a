// Package health answers the orchestrator's probes: liveness (is the process able to serve
// at all) and readiness (should it receive traffic now).
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Status is the body of a probe answer.
type Status struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Liveness answers 200 as long as the process can serve HTTP. It checks nothing else on
// purpose: a failing dependency must not make the orchestrator restart the service.
func Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, Status{Status: "ok"})
	})
}

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Readiness answers 200 when the service is ready and every check passes, 503 otherwise.
// It starts not ready; the service marks itself ready once it listens, and not ready again
// when it begins to shut down, so no new traffic arrives while requests drain.
type Readiness struct {
	ready   atomic.Bool
	timeout time.Duration
	mu      sync.RWMutex
	checks  map[string]Check
}

// NewReadiness returns a readiness probe that is not ready yet. Each check gets timeout.
func NewReadiness(timeout time.Duration) *Readiness {
	return &Readiness{timeout: timeout, checks: map[string]Check{}}
}

// SetReady marks the service ready or not.
func (r *Readiness) SetReady(ready bool) { r.ready.Store(ready) }

// AddCheck adds a named dependency check.
func (r *Readiness) AddCheck(name string, check Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.ready.Load() {
		write(w, http.StatusServiceUnavailable, Status{Status: "not ready"})
		return
	}
	r.mu.RLock()
	names := make([]string, 0, len(r.checks))
	for name := range r.checks {
		names = append(names, name)
	}
	sort.Strings(names)
	checks := make([]Check, len(names))
	for i, name := range names {
		checks[i] = r.checks[name]
	}
	r.mu.RUnlock()

	ctx, cancel := context.WithTimeout(req.Context(), r.timeout)
	defer cancel()
	status := Status{Status: "ok"}
	code := http.StatusOK
	for i, check := range checks {
		if err := check(ctx); err != nil {
			if status.Checks == nil {
				status.Checks = map[string]string{}
			}
			status.Checks[names[i]] = err.Error()
			status.Status = "unavailable"
			code = http.StatusServiceUnavailable
		}
	}
	write(w, code, status)
}

func write(w http.ResponseWriter, code int, status Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}
