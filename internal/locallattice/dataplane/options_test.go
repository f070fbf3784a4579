package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

func TestBindFlags(t *testing.T) {
	t.Parallel()
	var o Options
	fs := pflag.NewFlagSet("local", pflag.ContinueOnError)
	o.BindFlags(fs)
	err := fs.Parse([]string{"--dns-addr", "127.0.0.2:53", "--dataplane-addr", "127.0.0.3", "--listener-port-offset", "8000",
		"--data-dir", "/tmp/x", "--target-dial-map", "10.244.0.0/16=127.244.0.0/16", "--target-dial-map", "192.168.1.0/24=127.1.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if o.DNSAddr != "127.0.0.2:53" || o.DataPlaneAddr != "127.0.0.3" || o.ListenerPortOffset != 8000 || o.DataDir != "/tmp/x" || len(o.DialMap) != 2 {
		t.Errorf("parsed %+v", o)
	}
	if got := o.DialMap.String(); got != "10.244.0.0/16=127.244.0.0/16,192.168.1.0/24=127.1.1.0/24" {
		t.Errorf("String() = %q", got)
	}
}

func TestDialMap(t *testing.T) {
	t.Parallel()
	var m DialMap
	if err := m.Set("10.244.0.0/16=127.244.0.0/16, 10.0.0.0/8=127.0.0.0/8,10.1.2.0/23=127.50.0.0/23"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{"10.244.1.5:8090", "127.244.1.5:8090"},
		{"10.244.255.255:80", "127.244.255.255:80"},
		{"10.9.8.7:80", "127.9.8.7:80"}, // first match wins: /16 before /8
		{"10.1.3.4:80", "127.1.3.4:80"}, // /8 listed before the /23
		{"192.168.0.1:80", "192.168.0.1:80"},
		{"[::1]:80", "[::1]:80"},
		{"name.example:80", "name.example:80"},
	}
	for _, tc := range cases {
		if got := m.MapHostPort(tc.in); got != tc.want {
			t.Errorf("MapHostPort(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	var odd DialMap
	_ = odd.Set("10.1.2.0/23=127.50.0.0/23")
	if got := odd.Map(netip.MustParseAddr("10.1.3.9")); got.String() != "127.50.1.9" {
		t.Errorf("non-octet prefix: %s", got)
	}
	for _, bad := range []string{"10.0.0.0/8", "10.0.0.0/8=127.0.0.0/16", "10.0.0.0/8=::/8", "x=y"} {
		var m DialMap
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestLoopbackOnlyDialer(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"10.0.0.1:80", "[::1]:80", "example.com:80"} {
		rec := &recordingTB{}
		if _, err := LoopbackOnlyDialer(rec)(context.Background(), "tcp", addr); err == nil || len(rec.errors) != 1 {
			t.Errorf("dial %s: err %v, reported %v", addr, err, rec.errors)
		}
	}
}

type recordingTB struct{ errors []string }

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestSmoothSchedule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		weights []int
		want    []uint8
	}{
		{[]int{50, 50}, []uint8{0, 1}},
		{[]int{10, 20}, []uint8{1, 0, 1}},
		{[]int{5, 1, 1}, []uint8{0, 0, 1, 0, 2, 0, 0}},
		{[]int{999}, []uint8{0}},
		{nil, nil},
	}
	for _, tc := range cases {
		if got := smoothSchedule(tc.weights); !slices.Equal(got, tc.want) {
			t.Errorf("smoothSchedule(%v) = %v, want %v", tc.weights, got, tc.want)
		}
	}
	// The largest legal forward: 10 groups of weight 0..999 stays one byte per slot.
	big := smoothSchedule([]int{999, 998, 997, 996, 995, 994, 993, 992, 991, 990})
	counts := make([]int, 10)
	for _, i := range big {
		counts[i]++
	}
	for i, c := range counts {
		if c != 999-i {
			t.Errorf("group %d appears %d times, want %d", i, c, 999-i)
		}
	}
}

func TestAccessLogPath(t *testing.T) {
	t.Parallel()
	cases := []struct{ arn, want string }{
		{"arn:aws:logs:us-west-2:123456789012:log-group:my-group", "/d/accesslogs/logs/log-group_my-group.log"},
		{"arn:aws:logs:us-west-2:123456789012:log-group:my-group:*", "/d/accesslogs/logs/log-group_my-group.log"},
		{"arn:aws:s3:::bucket/a/b", "/d/accesslogs/s3/bucket_a_b.log"},
		{"arn:aws:firehose:us-west-2:123456789012:deliverystream/s", "/d/accesslogs/firehose/deliverystream_s.log"},
		{"../../etc/passwd", "/d/accesslogs/other/.._.._etc_passwd.log"},
		{"arn:aws:..:r:1:x", "/d/accesslogs/other/x.log"},
	}
	for _, tc := range cases {
		if got := AccessLogPath("/d", tc.arn); got != tc.want {
			t.Errorf("AccessLogPath(%s) = %s, want %s", tc.arn, got, tc.want)
		}
	}
}
