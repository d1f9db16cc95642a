// Package handlers serves the service's HTTP API.
package handlers

import (
	"encoding/json"
	"net/http"
)

// Info describes the running service.
type Info struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Version     string `json:"version"`
}

// Greeting is the answer of Hello.
type Greeting struct {
	Message string `json:"message"`
	Service string `json:"service"`
}

// Hello answers GET / with a greeting; GET /?name=Ann greets Ann.
func Hello(service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			WriteJSON(w, http.StatusNotFound, Problem{Status: http.StatusNotFound, Title: "not found"})
			return
		}
		if !readOnly(w, r) {
			return
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		WriteJSON(w, http.StatusOK, Greeting{Message: "hello, " + name, Service: service})
	})
}

// About answers GET with the service's Info.
func About(info Info) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readOnly(w, r) {
			return
		}
		WriteJSON(w, http.StatusOK, info)
	})
}

// Problem is an error answer (RFC 9457 fields).
type Problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// WriteJSON writes v as a JSON answer with the given status.
func WriteJSON(w http.ResponseWriter, status int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	if _, ok := v.(Problem); ok {
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// readOnly lets GET and HEAD through and answers anything else with 405.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	WriteJSON(w, http.StatusMethodNotAllowed, Problem{Status: http.StatusMethodNotAllowed, Title: "method not allowed"})
	return false
}
