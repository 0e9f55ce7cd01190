// Package kubernetes holds the tests of fstrace's Kubernetes manifests:
// each document decoded strictly (an unknown or misspelt field is an
// error) into the API's own types, and the DaemonSet held to what fstrace
// needs and to the flags its container is given. Its own module, so that
// the main module does not depend on k8s.io.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifest is fstrace.yaml, decoded.
type manifest struct {
	ns  *corev1.Namespace
	sa  *corev1.ServiceAccount
	ds  *appsv1.DaemonSet
	svc *corev1.Service
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// documents splits a multi-document YAML file, dropping the empty ones
// (comments only).
func documents(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSep.Split(string(b), -1) {
		var probe map[string]any
		if err := yaml.Unmarshal([]byte(d), &probe); err == nil && len(probe) > 0 {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// decodeStrict decodes one document into out as the API server reads it,
// field names case-sensitive, but refusing unknown and duplicate fields
// (which the server may only warn of), after checking it is of the kind
// and version wanted. encoding/json, under yaml.UnmarshalStrict, would
// take hostPid for hostPID.
func decodeStrict(doc []byte, apiVersion, kind string, out any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return err
	}
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		return fmt.Errorf("%s %s, want %s %s", tm.APIVersion, tm.Kind, apiVersion, kind)
	}
	strict, err := kjson.UnmarshalStrict(j, out)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func parseManifest(b []byte) (*manifest, error) {
	docs := documents(b)
	m := &manifest{ns: new(corev1.Namespace), sa: new(corev1.ServiceAccount), ds: new(appsv1.DaemonSet), svc: new(corev1.Service)}
	want := []struct {
		apiVersion, kind string
		out              any
	}{
		{"v1", "Namespace", m.ns},
		{"v1", "ServiceAccount", m.sa},
		{"apps/v1", "DaemonSet", m.ds},
		{"v1", "Service", m.svc},
	}
	if len(docs) != len(want) {
		return nil, fmt.Errorf("%d documents, want %d (Namespace, ServiceAccount, DaemonSet, Service)", len(docs), len(want))
	}
	for i, w := range want {
		if err := decodeStrict(docs[i], w.apiVersion, w.kind, w.out); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return m, nil
}

func readManifest(t *testing.T) *manifest {
	t.Helper()
	b, err := os.ReadFile("fstrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(b)
	if err != nil {
		t.Fatalf("fstrace.yaml: %v", err)
	}
	return m
}

// A misspelt field is an error, not a field silently dropped: the
// strictness the other tests rely on.
func TestDecodingIsStrict(t *testing.T) {
	b, err := os.ReadFile("fstrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{"hostPID: true", "hostPid: true"},
		{"readOnly: true", "readonly: true"},
		{"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n            allowPrivilegeEscalation: true"},
	} {
		bad := bytes.Replace(b, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(bad, b) {
			t.Fatalf("%q not in fstrace.yaml", c.from)
		}
		if _, err := parseManifest(bad); err == nil {
			t.Errorf("%q instead of %q decoded without an error", c.to, c.from)
		} else {
			t.Logf("%q: %v", c.to, err)
		}
	}
}

// fstraceArgs is the container's command line as fstrace reads it: the
// flags that take a value, those that do not, and nothing unknown (a flag
// this test does not know is one it cannot check: teach it).
func fstraceArgs(args []string) (map[string]string, error) {
	valued := map[string]string{"-o": "output", "--output": "output", "--metrics-addr": "metrics-addr",
		"--web.config.file": "web.config.file", "--hook-mode": "hook-mode", "--ring-size": "ring-size",
		"-e": "events", "--events": "events", "--on-loss": "on-loss", "--filter-file": "filter-file"}
	boolean := map[string]string{"-q": "quiet", "--quiet": "quiet", "--changes": "changes", "--failed": "failed", "--succeeded": "succeeded"}
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case valued[name] != "" && hasVal:
			flags[valued[name]] = val
		case valued[name] != "":
			if i+1 == len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			flags[valued[name]] = args[i]
		case boolean[name] != "" && !hasVal:
			flags[boolean[name]] = "true"
		default:
			return nil, fmt.Errorf("argument %q: not a flag this test knows", a)
		}
	}
	return flags, nil
}

// portOf resolves a probe's or a Service's port, a number or a name, to
// the container's port number.
func portOf(c *corev1.Container, p intstr.IntOrString) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

func theContainer(t *testing.T, m *manifest) *corev1.Container {
	t.Helper()
	cs := m.ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return &cs[0]
}

// metricsPort is the port of the container's --metrics-addr, which must
// reach beyond the pod's loopback (":9464" is 127.0.0.1:9464 to fstrace).
func metricsPort(t *testing.T, c *corev1.Container) int32 {
	t.Helper()
	flags, err := fstraceArgs(c.Args)
	if err != nil {
		t.Fatalf("args %q: %v", c.Args, err)
	}
	addr, ok := flags["metrics-addr"]
	if !ok {
		t.Fatalf("args %q: no --metrics-addr: no probes, no metrics", c.Args)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--metrics-addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("--metrics-addr %q: loopback only (a bare :PORT is 127.0.0.1): the kubelet and Prometheus cannot reach it", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		t.Fatalf("--metrics-addr %q: bad port", addr)
	}
	return int32(n)
}

func TestArgs(t *testing.T) {
	c := theContainer(t, readManifest(t))
	flags, err := fstraceArgs(c.Args)
	if err != nil {
		t.Fatalf("args %q: %v", c.Args, err)
	}
	if flags["output"] != "json" {
		t.Errorf("output %q, want json: JSON Lines on stdout for the log pipeline", flags["output"])
	}
	if _, ok := flags["web.config.file"]; ok {
		t.Errorf("--web.config.file: the probes and scrapes here are plain HTTP without credentials")
	}
	if c.Image == "" {
		t.Errorf("no image")
	}
}

// The probes, the container's port, the Service and the PodMonitor all go
// to the port --metrics-addr listens on.
func TestPorts(t *testing.T) {
	m := readManifest(t)
	c := theContainer(t, m)
	port := metricsPort(t, c)
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "metrics" && p.ContainerPort == port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP)
	}) {
		t.Errorf("no TCP container port named metrics at %d: %+v", port, c.Ports)
	}
	probes := map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe}
	for name, p := range probes {
		switch {
		case p == nil:
			t.Errorf("no %s", name)
		case p.HTTPGet == nil:
			t.Errorf("%s: not an HTTP GET", name)
		default:
			if p.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: path %q, want /healthz", name, p.HTTPGet.Path)
			}
			if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != corev1.URISchemeHTTP {
				t.Errorf("%s: scheme %s", name, p.HTTPGet.Scheme)
			}
			if got, err := portOf(c, p.HTTPGet.Port); err != nil || got != port {
				t.Errorf("%s: port %s is %d (%v), --metrics-addr's is %d", name, p.HTTPGet.Port.String(), got, err, port)
			}
		}
	}
	if len(m.svc.Spec.Ports) != 1 {
		t.Fatalf("Service: %d ports, want 1", len(m.svc.Spec.Ports))
	}
	sp := m.svc.Spec.Ports[0]
	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(sp.Port)
	}
	if got, err := portOf(c, target); err != nil || got != port || sp.Port != port {
		t.Errorf("Service: port %d, target %s (%d, %v); --metrics-addr's is %d", sp.Port, target.String(), got, err, port)
	}
	if m.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service: clusterIP %q, want None (headless: each pod scraped on its own)", m.svc.Spec.ClusterIP)
	}
}

// Every object in the Namespace; the selectors select the pods.
func TestWiring(t *testing.T) {
	m := readManifest(t)
	ns := m.ns.Name
	for kind, got := range map[string]string{"ServiceAccount": m.sa.Namespace, "DaemonSet": m.ds.Namespace, "Service": m.svc.Namespace} {
		if got != ns {
			t.Errorf("%s in namespace %q, the Namespace is %q", kind, got, ns)
		}
	}
	// hostPID and the rest pass only the privileged Pod Security level.
	if lvl := m.ns.Labels["pod-security.kubernetes.io/enforce"]; lvl != "privileged" {
		t.Errorf("Namespace: pod-security.kubernetes.io/enforce %q, want privileged", lvl)
	}
	pod := m.ds.Spec.Template
	if pod.Spec.ServiceAccountName != m.sa.Name {
		t.Errorf("DaemonSet: serviceAccountName %q, the ServiceAccount is %q", pod.Spec.ServiceAccountName, m.sa.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(m.ds.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("DaemonSet: selector %v does not select its pods %v (%v)", m.ds.Spec.Selector, pod.Labels, err)
	}
	if len(m.svc.Spec.Selector) == 0 || !labels.SelectorFromSet(m.svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Errorf("Service: selector %v does not select the pods %v", m.svc.Spec.Selector, pod.Labels)
	}
}

func TestPodSpec(t *testing.T) {
	m := readManifest(t)
	spec := m.ds.Spec.Template.Spec
	if !spec.HostPID {
		t.Errorf("no hostPID: pids would be the pod's, /proc the pod's")
	}
	if spec.HostNetwork {
		t.Errorf("hostNetwork: 0.0.0.0:%d would be every address of the node", metricsPort(t, theContainer(t, m)))
	}
	// One toleration of everything: a key-less Exists with no effect.
	if !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == "" && tl.TolerationSeconds == nil
	}) {
		t.Errorf("tolerations %+v: none tolerates every taint (operator: Exists alone)", spec.Tolerations)
	}
	if spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot {
		t.Errorf("runAsNonRoot: Kubernetes gives a non-root container no effective capabilities")
	}
	if got := spec.NodeSelector["kubernetes.io/arch"]; got != "amd64" {
		t.Errorf("nodeSelector kubernetes.io/arch %q, want amd64 (fstrace's programs are x86-64 only)", got)
	}
}

func TestSecurityContext(t *testing.T) {
	c := theContainer(t, readManifest(t))
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no securityContext")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("privileged: true; fstrace needs a few capabilities, not all of them")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("runAsUser %v, want 0: the added capabilities are effective for uid 0 only", sc.RunAsUser)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("root filesystem writable")
	}
	if sc.Capabilities == nil {
		t.Fatal("no capabilities")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	// pkg/tracer/caps.go: BPF and PERFMON to load and attach, SYS_RESOURCE
	// for 5.10's memlock; SYS_ADMIN only for perf events under
	// perf_event_paranoid 3 (kprobe and syscall modes), which this
	// manifest leaves to be added by hand.
	add := slices.Sorted(slices.Values(sc.Capabilities.Add))
	if want := []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE"}; !slices.Equal(add, want) {
		t.Errorf("add %v, want %v", add, want)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation not false (without SYS_ADMIN nothing needs it)")
	}
}

// The host paths fstrace reads and nothing else, read-only; a writable
// TMPDIR for the start's probe, the root filesystem being read-only.
func TestMounts(t *testing.T) {
	m := readManifest(t)
	c := theContainer(t, m)
	vols := map[string]corev1.Volume{}
	for _, v := range m.ds.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	wantHost := map[string]string{ // host path: why
		"/sys/kernel/tracing": "syscall mode's per-syscall tracepoints",
		"/sys/fs/cgroup":      "--cgroup paths in the node's hierarchy",
	}
	seen := map[string]bool{}
	tmp := ""
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			t.Errorf("mount %s: no volume %q", vm.MountPath, vm.Name)
			continue
		}
		switch {
		case v.HostPath != nil:
			if _, ok := wantHost[v.HostPath.Path]; !ok {
				t.Errorf("host path %s mounted: fstrace does not need it", v.HostPath.Path)
			}
			if vm.MountPath != v.HostPath.Path {
				t.Errorf("host path %s mounted at %s: fstrace looks for it at its own path", v.HostPath.Path, vm.MountPath)
			}
			if !vm.ReadOnly {
				t.Errorf("host path %s mounted writable", v.HostPath.Path)
			}
			seen[v.HostPath.Path] = true
		case v.EmptyDir != nil:
			if !vm.ReadOnly {
				tmp = vm.MountPath
			}
		default:
			t.Errorf("volume %s: neither a host path nor an emptyDir", v.Name)
		}
	}
	for p, why := range wantHost {
		if !seen[p] {
			t.Errorf("%s not mounted (%s)", p, why)
		}
	}
	if len(vols) != len(c.VolumeMounts) {
		t.Errorf("%d volumes, %d mounted", len(vols), len(c.VolumeMounts))
	}
	tmpdir := ""
	for _, e := range c.Env {
		if e.Name == "TMPDIR" {
			tmpdir = e.Value
		}
	}
	if tmp == "" || tmpdir != tmp {
		t.Errorf("TMPDIR %q, writable emptyDir at %q: the FMODE_CREATED probe needs a writable temporary directory", tmpdir, tmp)
	}
}

// Memory: ~90 MiB at the start's peak without the rings, plus the rings,
// which the kernel charges to the pod: the default is at most 64 MiB up
// to 64 CPUs (pkg/tracer, defaultRingSize).
func TestResources(t *testing.T) {
	c := theContainer(t, readManifest(t))
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okr := r.Requests[name]
		lim, okl := r.Limits[name]
		if !okr || !okl {
			t.Errorf("%s: request %v, limit %v: want both", name, okr, okl)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", name, req.String(), lim.String())
		}
	}
	if lim := r.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("256Mi")) < 0 {
		t.Errorf("memory limit %s: below 192Mi + 64Mi of default rings", lim.String())
	}
	if req := r.Requests[corev1.ResourceMemory]; req.Cmp(resource.MustParse("96Mi")) < 0 {
		t.Errorf("memory request %s: below what it holds (RssAnon + binary + maps + rings on 2 CPUs)", req.String())
	}
}

func TestPodMonitor(t *testing.T) {
	b, err := os.ReadFile("podmonitor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := documents(b)
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1", len(docs))
	}
	var pm monitoringv1.PodMonitor
	if err := decodeStrict(docs[0], "monitoring.coreos.com/v1", "PodMonitor", &pm); err != nil {
		t.Fatalf("podmonitor.yaml: %v", err)
	}
	m := readManifest(t)
	c := theContainer(t, m)
	if pm.Namespace != m.ns.Name {
		t.Errorf("namespace %q, fstrace's is %q", pm.Namespace, m.ns.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(m.ds.Spec.Template.Labels)) {
		t.Errorf("selector %v does not select the pods (%v)", pm.Spec.Selector, err)
	}
	port := metricsPort(t, c)
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil {
		t.Fatal("endpoint without a port")
	}
	if got, err := portOf(c, intstr.FromString(*ep.Port)); err != nil || got != port {
		t.Errorf("endpoint port %q is %d (%v), --metrics-addr's is %d", *ep.Port, got, err, port)
	}
	if ep.Path != "" && ep.Path != "/metrics" {
		t.Errorf("endpoint path %q, want /metrics", ep.Path)
	}
}
