package dataplane

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// accessLogDir is the folder under the data directory that holds one file per destination.
const accessLogDir = "accesslogs"

// AccessLogPath maps an access-log destination ARN to its file under dataDir:
// accesslogs/<arn service>/<resource with every character outside [A-Za-z0-9._-] as '_'>.log,
// so arn:aws:logs:us-west-2:123456789012:log-group:my-group becomes
// accesslogs/logs/log-group_my-group.log and arn:aws:s3:::my-bucket/prefix becomes
// accesslogs/s3/my-bucket_prefix.log.
func AccessLogPath(dataDir, destinationARN string) string {
	parts := strings.SplitN(destinationARN, ":", 6)
	service, resource := "other", destinationARN
	if len(parts) == 6 && parts[0] == "arn" {
		service, resource = sanitize(parts[2]), parts[5]
	}
	if strings.Trim(service, ".") == "" {
		// Never a path component like "..": the file must stay under accesslogs/.
		service = "other"
	}
	return filepath.Join(dataDir, accessLogDir, service, sanitize(strings.TrimSuffix(resource, ":*"))+".log")
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// logSink appends JSON lines to one destination file.
type logSink struct {
	path string
	log  logr.Logger

	mu   sync.Mutex
	file *os.File
}

func (s *logSink) write(e *accessLogEntry) {
	line, err := json.Marshal(e)
	if err != nil {
		s.log.Error(err, "encode access log entry")
		return
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
			s.log.Error(err, "create access log directory", "path", s.path)
			return
		}
		f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			s.log.Error(err, "open access log", "path", s.path)
			return
		}
		s.file = f
	}
	if _, err := s.file.Write(line); err != nil {
		s.log.Error(err, "write access log", "path", s.path)
	}
}

func (s *logSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// sinks hands out one logSink per destination for the data plane's lifetime.
type sinks struct {
	dataDir string
	log     logr.Logger

	mu  sync.Mutex
	all map[string]*logSink
}

func (s *sinks) get(destinationARN string) *logSink {
	path := AccessLogPath(s.dataDir, destinationARN)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sink, ok := s.all[path]; ok {
		return sink
	}
	sink := &logSink{path: path, log: s.log.WithValues("destination", destinationARN)}
	s.all[path] = sink
	return sink
}

func (s *sinks) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sink := range s.all {
		sink.close()
	}
}

// accessLogEntry borrows the field names of Lattice's access logs (reference §3.7).
type accessLogEntry struct {
	StartTime            string `json:"startTime"`
	ServiceNetworkARN    string `json:"serviceNetworkArn,omitempty"`
	ServiceARN           string `json:"serviceArn"`
	ListenerARN          string `json:"listenerArn"`
	ListenerType         string `json:"listenerType"`
	RuleARN              string `json:"ruleArn,omitempty"`
	DefaultRule          bool   `json:"defaultRule,omitempty"`
	TargetGroupARN       string `json:"targetGroupArn,omitempty"`
	TargetIPPort         string `json:"targetIpPort,omitempty"`
	SourceIPPort         string `json:"sourceIpPort"`
	RequestMethod        string `json:"requestMethod,omitempty"`
	RequestPath          string `json:"requestPath,omitempty"`
	Protocol             string `json:"protocol"`
	ResponseCode         int    `json:"responseCode,omitempty"`
	BytesReceived        int64  `json:"bytesReceived"`
	BytesSent            int64  `json:"bytesSent"`
	Duration             int64  `json:"duration"` // milliseconds
	UserAgent            string `json:"userAgent,omitempty"`
	HostHeader           string `json:"hostHeader,omitempty"`
	ServerNameIndication string `json:"serverNameIndication,omitempty"`
	FailureReason        string `json:"failureReason,omitempty"`
	ResolvedUser         string `json:"resolvedUser,omitempty"`
	AuthDeniedReason     string `json:"authDeniedReason,omitempty"`
}

func logTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (r *route) writeLog(e *accessLogEntry) {
	for _, s := range r.logs {
		s.write(e)
	}
}

func (r *route) baseEntry(start time.Time, source string) accessLogEntry {
	return accessLogEntry{
		StartTime:         logTime(start),
		ServiceNetworkARN: r.serviceNetworkARN,
		ServiceARN:        r.service.ARN,
		ListenerARN:       r.listener.ARN,
		ListenerType:      r.listener.Protocol,
		SourceIPPort:      source,
	}
}

func (e *accessLogEntry) finish(start time.Time) {
	e.Duration = time.Since(start).Milliseconds()
}
