package describe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats Write knows.
const (
	FormatText = "text"
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Write prints r in format (text, yaml or json).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatYAML:
		b, err := yaml.Marshal(r)
		if err != nil {
			return fmt.Errorf("render yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatText, "":
		return writeText(w, r)
	}
	return fmt.Errorf("unknown output format %q (want text, yaml or json)", format)
}

func writeText(out io.Writer, r *Report) error {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("%s", r.Object)
	if !r.Found {
		p("  not found")
	}
	if len(r.Conditions) > 0 {
		p("Conditions:")
		for _, c := range r.Conditions {
			p("  %s\t%s\t%s\t%s\t%s", c.On, c.Type, c.Status, c.Reason, c.Message)
		}
	}
	if len(r.Policies) > 0 {
		p("Policies:")
		for _, pol := range r.Policies {
			var cs []string
			for _, c := range pol.Conditions {
				cs = append(cs, c.Type+"="+c.Status)
			}
			p("  %s %s  %s", pol.Kind, pol.Name, strings.Join(cs, " "))
		}
	}
	if len(r.Routes) > 0 {
		p("Routes:")
		for _, rt := range r.Routes {
			p("  %s", rt)
		}
	}
	if sn := r.ServiceNetwork; sn != nil {
		p("Lattice service network %s  %s  %s", sn.Name, sn.ID, sn.ARN)
		for _, v := range sn.VPCs {
			p("  VPC %s", v)
		}
		if sn.AuthPolicy != "" {
			p("  auth policy: %s", oneLine(sn.AuthPolicy))
		}
	}
	for _, s := range r.Services {
		p("Lattice service %s  %s  %s", s.Name, s.ID, s.Status)
		p("  ARN %s", s.ARN)
		p("  DNS %s", s.DNSName)
		for _, n := range s.Networks {
			p("  in service network %s", n)
		}
		if s.AuthPolicy != "" {
			p("  auth policy: %s", oneLine(s.AuthPolicy))
		}
		for _, d := range s.AccessLogs {
			p("  access logs to %s", d)
		}
		for _, l := range s.Listeners {
			p("  listener %s %s:%d  %s", l.Name, l.Protocol, l.Port, l.ID)
			for _, ru := range l.Rules {
				p("    %s\t%s\t%s\t-> %s", ru.Priority, ru.Name, ru.Match, ru.Action)
			}
		}
	}
	for _, tg := range r.TargetGroups {
		p("Target group %s  %s  %s", tg.Name, tg.ID, tg.Status)
		if len(tg.Targets) == 0 {
			p("  (no targets)")
		}
		for _, t := range tg.Targets {
			p("  %s:%d\t%s\t%s", t.ID, t.Port, t.Status, t.Reason)
		}
	}
	if len(r.Problems) > 0 {
		p("Why it may not get traffic:")
		for _, pr := range r.Problems {
			p("  - %s", pr)
		}
	} else if r.Found {
		p("No problems found.")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Empty last cells leave padding behind; trailing blanks only get in the way of copy and paste.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(out, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
