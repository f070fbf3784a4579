package workloads

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
)

// demoHandler answers like the upstream walkthrough's http-server image: the pod's host name
// (the Pod name) and the handler text from env PodName, e.g.
// "Requesting to Pod(parking-6cdcd5b4b4-g8dkb): parking handler pod", without a newline.
// When PodName is unset the handler text is "<container> handler pod".
func demoHandler(c Container) http.Handler {
	text := c.envOr("PodName", c.Name+" handler pod")
	body := fmt.Sprintf("Requesting to Pod(%s): %s", c.Pod, text)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	})
}

// PlainEchoResponse is the plain echo's JSON answer.
type PlainEchoResponse struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Container string `json:"container"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Host      string `json:"host"`
}

func plainEchoHandler(c Container) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(PlainEchoResponse{
			Pod: c.Pod, Namespace: c.Namespace, Container: c.Name,
			Method: r.Method, Path: r.RequestURI, Host: r.Host,
		})
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

var demoAnswer = regexp.MustCompile(`^Requesting to Pod\(([^)]*)\)`)

// PodOf tells which Pod produced an answer body of any workload: echo-basic and the plain echo
// carry a JSON "pod" field, the demo app names the Pod in its text.
func PodOf(body []byte) (string, bool) {
	if m := demoAnswer.FindSubmatch(body); m != nil {
		return string(m[1]), true
	}
	var v struct {
		Pod *string `json:"pod"`
	}
	if json.Unmarshal(body, &v) == nil && v.Pod != nil {
		return *v.Pod, true
	}
	return "", false
}
