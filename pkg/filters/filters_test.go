package filters

import (
	"errors"
	"strings"
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
)

func TestParseFile(t *testing.T) {
	yaml := `
events: [open, unlink]
failed: true
pid: [12, {value: 34, events: open}]
uid: [root, 1000]
comm: [cat]
exclude_comm: [sshd]
path: [/etc/, {value: /var/log, exclude: true}]
`
	s, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != events.MaskOf(events.KindOpen, events.KindUnlink) || !s.Failed {
		t.Errorf("events %v failed %v", s.Events, s.Failed)
	}
	if len(s.PID) != 2 || s.PID[1].Value != 34 || s.PID[1].Events != events.MaskOf(events.KindOpen) {
		t.Errorf("pid rules %+v", s.PID)
	}
	if len(s.UID) != 2 || s.UID[0].Value != 0 || s.UID[1].Value != 1000 {
		t.Errorf("uid rules %+v", s.UID)
	}
	if len(s.Comm) != 2 || !s.Comm[1].Exclude || s.Comm[1].Value != "sshd" {
		t.Errorf("comm rules %+v", s.Comm)
	}
	if len(s.Path) != 2 || s.Path[0].Value != "/etc" || !s.Path[1].Exclude {
		t.Errorf("path rules %+v", s.Path)
	}
	// The same in JSON.
	j, err := Parse([]byte(`{"pid": [12], "path": ["/etc"], "failed": true}`))
	if err != nil || len(j.PID) != 1 || j.Path[0].Value != "/etc" || !j.Failed {
		t.Errorf("json: %+v, %v", j, err)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`pid: [abc]`, `"abc" is not a process id`},
		{`uid: [no-such-user-xyz]`, "no such user"},
		{`events: [bogus]`, `unknown event kind "bogus"`},
		{`colour: red`, `unknown field "colour"`},
		{`path: [""]`, "empty path"},
		{`comm: [a-name-longer-than-fifteen]`, "want 1 to 15 bytes"},
		{`pid: [{value: 1, evnts: open}]`, `unknown field "evnts"`},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	a := Set{Events: events.MaskOf(events.KindOpen, events.KindUnlink), PID: []Rule[uint32]{{Value: 1}}}
	b := Set{Events: events.MaskOf(events.KindOpen), Failed: true, PID: []Rule[uint32]{{Value: 2}}}
	m := a.Merge(b)
	if m.Events != events.MaskOf(events.KindOpen) || !m.Failed || len(m.PID) != 2 {
		t.Errorf("merge: %+v", m)
	}
	if len(a.PID) != 1 {
		t.Error("merge changed its receiver")
	}
}

// Any filter file is either a valid set or one line of error; nothing
// panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "null", "{}", `{"pid": [1, "2"]}`, "uid: [root, {value: 1000, events: [unlink]}]\n",
		`{"path": ["/etc"], "exclude_path": ["/etc/shadow"], "events": ["create", "open"]}`,
		`{"comm": ["bash"], "cgroup": ["/"], "failed": true}`, "path: [relative]", "events: [nope]",
		`{"pid": [{"value": 1, "exclude": true}]}`, "- a\n- b", `{"gid": [-1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse returned a set that does not validate: %v", err)
		}
	})
}

func TestContainerFilters(t *testing.T) {
	const id = "4f7c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	s, err := Parse([]byte("container: [4F7C1A2B3C4D]\nexclude_container: [" + id + "]\nhost_only: false\ncontainers_only: true\n"))
	if err == nil {
		err = errors.New("accepted two prefixes sharing their first 12 digits")
	}
	if !strings.Contains(err.Error(), "first 12 digits") {
		t.Fatal(err)
	}
	s, err = Parse([]byte("container: [4F7C1A2B3C4D]\ncontainers_only: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Container) != 1 || s.Container[0].Value != "4f7c1a2b3c4d" || !s.ContainersOnly || s.HostOnly {
		t.Errorf("parsed %+v", s)
	}
	for _, bad := range []string{"4f7c1a2b3c4", id + "0", "4f7c1a2b3c4g", ""} {
		if _, err := ParseContainerID(bad); err == nil {
			t.Errorf("ParseContainerID(%q) accepted", bad)
		}
	}
	if err := (Set{HostOnly: true, ContainersOnly: true}).Validate(); err == nil {
		t.Error("host-only with containers-only validated")
	}
}
