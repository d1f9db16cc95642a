package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestHelloGreetsTheWorldOrAName(t *testing.T) {
	h := Hello("demo")
	for target, want := range map[string]string{"/": "hello, world", "/?name=Ann": "hello, Ann"} {
		rec := get(t, h, http.MethodGet, target)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", target, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", target, ct)
		}
		var g Greeting
		if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		if g.Message != want || g.Service != "demo" {
			t.Errorf("%s: got %+v", target, g)
		}
	}
}

func TestHelloAnswersUnknownPathsWithNotFound(t *testing.T) {
	rec := get(t, Hello("demo"), http.MethodGet, "/nope")
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q", ct)
	}
}

func TestAboutDescribesTheService(t *testing.T) {
	info := Info{Name: "demo", Description: "A \"quoted\" demo", Version: "abc123"}
	rec := get(t, About(info), http.MethodGet, "/info")
	var got Info
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || got != info {
		t.Errorf("status %d, body %+v", rec.Code, got)
	}
}

func TestOnlyReadsAreAllowed(t *testing.T) {
	rec := get(t, About(Info{}), http.MethodPost, "/info")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}
