package events

import (
	"strings"
	"testing"
)

const testCtr = "4f7c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"

func TestDecodeCgroup(t *testing.T) {
	r := rec{Kind: recCgroup, CgroupID: 77, Str: [NumStr]string{"cri-containerd-" + testCtr + ".scope/kubepods-besteffort-pod1.slice/kubepods.slice/"}}
	raw := r.encode()
	if !IsCgroupRecord(raw) {
		t.Fatal("not a cgroup record")
	}
	got, err := DecodeCgroup(raw)
	want := CgroupRecord{ID: 77, Path: "/kubepods.slice/kubepods-besteffort-pod1.slice/cri-containerd-" + testCtr + ".scope"}
	if err != nil || got != want {
		t.Fatalf("DecodeCgroup = %+v, %v; want %+v", got, err, want)
	}
	if got, err := DecodeCgroup(rec{Kind: recCgroup, CgroupID: 1}.encode()); err != nil || got.Path != "/" {
		t.Errorf("root: %+v, %v", got, err)
	}
	if _, err := DecodeCgroup(raw[:len(raw)-1]); err == nil {
		t.Error("short record decoded")
	}
	if IsCgroupRecord(rec{Kind: KindOpen}.encode()) {
		t.Error("an open is a cgroup record")
	}
}

func TestContainerOutput(t *testing.T) {
	e := Event{Kind: KindCreate, PID: 5, Comm: "touch", CgroupID: 77, Path: "/f",
		ContainerID: testCtr, ContainerRuntime: "containerd", PodUID: "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", MntNS: 4026532000}
	const who = `"cgroup_id":77,"container_id":"` + testCtr + `","container_runtime":"containerd","pod_uid":"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9","mntns":4026532000,"path":"/f"`
	var enc JSONEncoder
	for _, line := range []string{string(AppendJSON(nil, &e)), string(enc.Append(nil, &e)), string(enc.Append(nil, &e))} {
		if !strings.Contains(line, who) {
			t.Errorf("JSON %s lacks %s", line, who)
		}
	}
	host := e
	host.ContainerID, host.ContainerRuntime, host.PodUID, host.MntNS = "", "", "", 0
	if line := string(enc.Append(nil, &host)); !strings.Contains(line, `"cgroup_id":77,"path"`) {
		t.Errorf("host JSON %s", line)
	}
	txt := string(AppendText(nil, &e))
	if !strings.HasSuffix(txt, " container="+testCtr[:12]+" pod=0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9 mntns=4026532000\n") {
		t.Errorf("text %q", txt)
	}
	if txt := string(AppendText(nil, &host)); strings.Contains(txt, "container=") || strings.Contains(txt, "mntns=") {
		t.Errorf("host text %q", txt)
	}
}
