// Package logging writes leveled, structured logs as one JSON object per line.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Level orders log entries by importance.
type Level int

// The levels, from the most to the least verbose.
const (
	Debug Level = iota
	Info
	Warn
	Error
)

var levelNames = []string{"debug", "info", "warn", "error"}

func (l Level) String() string {
	if l < Debug || l > Error {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level name: debug, info, warn or error.
func ParseLevel(name string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(n, name) {
			return Level(i), nil
		}
	}
	return Info, fmt.Errorf("unknown log level %q", name)
}

// Logger writes entries at or above its level. It is safe for concurrent use.
type Logger struct {
	mu    sync.Mutex
	out   io.Writer
	level Level
	now   func() time.Time
}

// New returns a logger writing to out.
func New(out io.Writer, level Level) *Logger {
	return &Logger{out: out, level: level, now: time.Now}
}

// Debug logs msg with key-value pairs at debug level.
func (l *Logger) Debug(msg string, kv ...interface{}) { l.log(Debug, msg, kv) }

// Info logs msg with key-value pairs at info level.
func (l *Logger) Info(msg string, kv ...interface{}) { l.log(Info, msg, kv) }

// Warn logs msg with key-value pairs at warn level.
func (l *Logger) Warn(msg string, kv ...interface{}) { l.log(Warn, msg, kv) }

// Error logs msg with key-value pairs at error level.
func (l *Logger) Error(msg string, kv ...interface{}) { l.log(Error, msg, kv) }

func (l *Logger) log(level Level, msg string, kv []interface{}) {
	if level < l.level {
		return
	}
	entry := map[string]interface{}{
		"time":  l.now().UTC().Format(time.RFC3339Nano),
		"level": level.String(),
		"msg":   msg,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprint(kv[i])
		}
		value := kv[i+1]
		if err, ok := value.(error); ok {
			value = err.Error()
		}
		entry[key] = value
	}
	line, err := json.Marshal(entry)
	if err != nil {
		line, _ = json.Marshal(map[string]string{"level": "error", "msg": "cannot encode log entry", "error": err.Error()})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(append(line, '\n'))
}

// Requests logs every request at debug level: method, path, status and duration.
func Requests(log *Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
