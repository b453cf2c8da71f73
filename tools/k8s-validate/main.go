// k8s-validate checks rendered Kubernetes manifests (the output of `helm template`) offline against
// the Kubernetes API types, the way the API server decodes them, and checks that the objects of one
// rendering refer to each other consistently.
//
// Usage: k8s-validate [--external-secret NAME]... [--hardened] [--extract DIR] FILE|- ...
//
// Per document (YAML streams separated by "---"; empty documents are skipped):
//   - strict decoding into the typed object of its apiVersion/kind (k8s.io/api): an unknown or
//     duplicated field, a wrong type, a malformed quantity or base64 value is an error; field names
//     are case-sensitive (sigs.k8s.io/json, as the API server decodes);
//   - an apiVersion/kind outside the list below is an error, never silently accepted;
//   - metadata: a DNS-1123 name (a DNS-1035 label for Services), valid label keys and values.
//
// Across the documents of one run:
//   - workload selectors match their pod template labels; Services, PodDisruptionBudgets,
//     NetworkPolicies and ServiceMonitors select something that was rendered;
//   - named ports (Service targetPort, probes, Ingress backends, ServiceMonitor endpoints) exist;
//   - volume mounts name a volume; ConfigMap and Secret volumes, env references and the
//     HorizontalPodAutoscaler target name a rendered object (Secrets named by --external-secret
//     are provided by the operator and accepted);
//   - with --hardened, every container runs as non-root with a read-only root filesystem, no
//     privilege escalation, all capabilities dropped, and CPU/memory requests set.
//
// --extract DIR writes, once everything is valid, what a test needs to run the rendered workload
// outside a cluster: DIR/configmap/NAME/KEY and DIR/secret/NAME/KEY (data decoded, stringData as
// is) and DIR/command/OWNER/CONTAINER, the container's command followed by its args, each ended by
// a NUL byte (read it in bash with: mapfile -d "" argv < FILE).
//
// ServiceMonitor (monitoring.coreos.com/v1) is a CRD with no Go types in k8s.io/api: it is decoded
// strictly into the subset of the prometheus-operator API that the chart uses (see serviceMonitor).
//
// Exit status: 0 all documents valid, 1 any error (each printed with its document's "# Source:"),
// 2 usage error.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// serviceMonitor is the subset of monitoring.coreos.com/v1 ServiceMonitor the chart renders, with
// the field names and types of the prometheus-operator API reference. A field outside it fails.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			HonorLabels   bool   `json:"honorLabels,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// The CRD's pattern for monitoringv1.Duration.
var promDuration = regexp.MustCompile(
	`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1 Pod":
		return &corev1.Pod{}, true
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, true
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}, true
	}
	return nil, false
}

// doc is one decoded manifest and where it came from.
type doc struct {
	source string // the "# Source:" comment helm writes, else FILE#index
	kind   string
	name   string
	obj    any
}

// podTemplate is the pod of a workload (or a bare Pod): its labels and spec.
type podTemplate struct {
	owner  *doc
	labels map[string]string
	spec   *corev1.PodSpec
}

type validator struct {
	externalSecrets map[string]bool
	hardened        bool
	extractDir      string
	docs            []*doc
	errs            []string
}

func (v *validator) errorf(d *doc, format string, args ...any) {
	where := "<input>"
	if d != nil {
		where = fmt.Sprintf("%s (%s/%s)", d.source, d.kind, d.name)
	}
	v.errs = append(v.errs, where+": "+fmt.Sprintf(format, args...))
}

var sourceComment = regexp.MustCompile(`(?m)^# Source: (.+)$`)

func (v *validator) readStream(name string, r io.Reader) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for i := 0; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			v.errorf(nil, "%s: reading YAML: %v", name, err)
			return
		}
		source := fmt.Sprintf("%s#%d", name, i)
		if m := sourceComment.FindSubmatch(raw); m != nil {
			source = string(m[1])
		}
		v.decode(source, raw)
	}
}

func (v *validator) decode(source string, raw []byte) {
	d := &doc{source: source}
	js, err := sigsyaml.YAMLToJSONStrict(raw)
	if err != nil {
		v.errorf(d, "YAML: %v", err)
		return
	}
	if trimmed := bytes.TrimSpace(js); len(trimmed) == 0 || string(trimmed) == "null" {
		return // a document with only comments, as helm emits for disabled templates
	}
	var meta metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
		v.errorf(d, "not an object: %v", err)
		return
	}
	d.kind = meta.Kind
	var named struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if kjson.UnmarshalCaseSensitivePreserveInts(js, &named) == nil {
		d.name = named.Metadata.Name
	}
	obj, known := newObject(meta.APIVersion, meta.Kind)
	if !known {
		v.errorf(d, "apiVersion %q kind %q is not one this validator knows", meta.APIVersion,
			meta.Kind)
		return
	}
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields,
		kjson.DisallowUnknownFields)
	if err != nil {
		v.errorf(d, "decode: %v", err)
		return
	}
	for _, e := range strict {
		v.errorf(d, "strict decode: %v", e)
	}
	if len(strict) > 0 {
		return
	}
	d.obj = obj
	v.checkMeta(d)
	v.docs = append(v.docs, d)
}

func objectMeta(obj any) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		return &o.ObjectMeta
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *corev1.Service:
		return &o.ObjectMeta
	case *corev1.ConfigMap:
		return &o.ObjectMeta
	case *corev1.Secret:
		return &o.ObjectMeta
	case *corev1.ServiceAccount:
		return &o.ObjectMeta
	case *corev1.Pod:
		return &o.ObjectMeta
	case *corev1.PersistentVolumeClaim:
		return &o.ObjectMeta
	case *networkingv1.Ingress:
		return &o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return &o.ObjectMeta
	case *autoscalingv2.HorizontalPodAutoscaler:
		return &o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return &o.ObjectMeta
	case *serviceMonitor:
		return &o.ObjectMeta
	}
	panic(fmt.Sprintf("objectMeta: unhandled %T", obj))
}

func (v *validator) checkLabels(d *doc, what string, set map[string]string) {
	for k, val := range set {
		for _, msg := range validation.IsQualifiedName(k) {
			v.errorf(d, "%s key %q: %s", what, k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(val) {
			v.errorf(d, "%s %q value %q: %s", what, k, val, msg)
		}
	}
}

func (v *validator) checkMeta(d *doc) {
	m := objectMeta(d.obj)
	d.name = m.Name
	if m.Name == "" {
		v.errorf(d, "metadata.name is required")
		return
	}
	check := validation.IsDNS1123Subdomain
	if d.kind == "Service" {
		check = validation.IsDNS1035Label
	}
	for _, msg := range check(m.Name) {
		v.errorf(d, "metadata.name %q: %s", m.Name, msg)
	}
	v.checkLabels(d, "metadata.labels", m.Labels)
	for k := range m.Annotations {
		for _, msg := range validation.IsQualifiedName(k) {
			v.errorf(d, "metadata.annotations key %q: %s", k, msg)
		}
	}
}

func (v *validator) named(kind, name string) *doc {
	for _, d := range v.docs {
		if d.kind == kind && d.name == name {
			return d
		}
	}
	return nil
}

func (v *validator) pods() []podTemplate {
	var out []podTemplate
	for _, d := range v.docs {
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			out = append(out, podTemplate{d, o.Spec.Template.Labels, &o.Spec.Template.Spec})
		case *appsv1.Deployment:
			out = append(out, podTemplate{d, o.Spec.Template.Labels, &o.Spec.Template.Spec})
		case *corev1.Pod:
			out = append(out, podTemplate{d, o.Labels, &o.Spec})
		}
	}
	return out
}

// selected returns the pod templates a selector matches (Pods of helm test excluded: a Service
// or a budget that only matched a test pod would be a bug).
func (v *validator) selected(d *doc, what string, sel *metav1.LabelSelector) []podTemplate {
	if sel == nil {
		v.errorf(d, "%s is required", what)
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		v.errorf(d, "%s: %v", what, err)
		return nil
	}
	var out []podTemplate
	for _, p := range v.pods() {
		if p.owner.kind != "Pod" && s.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		v.errorf(d, "%s %s matches no rendered workload", what, s.String())
	}
	return out
}

func hasContainerPort(spec *corev1.PodSpec, port intstr.IntOrString) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) ||
				(port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

func (v *validator) checkPodSpec(d *doc, spec *corev1.PodSpec, claims map[string]bool) {
	volumes := map[string]bool{}
	for name := range claims {
		volumes[name] = true
	}
	for _, vol := range spec.Volumes {
		volumes[vol.Name] = true
		if cm := vol.ConfigMap; cm != nil && (cm.Optional == nil || !*cm.Optional) &&
			v.named("ConfigMap", cm.Name) == nil {
			v.errorf(d, "volume %q: ConfigMap %q is not rendered", vol.Name, cm.Name)
		}
		if s := vol.Secret; s != nil && (s.Optional == nil || !*s.Optional) {
			v.checkSecretRef(d, "volume "+vol.Name, s.SecretName)
		}
		if c := vol.PersistentVolumeClaim; c != nil && v.named("PersistentVolumeClaim",
			c.ClaimName) == nil {
			v.errorf(d, "volume %q: PersistentVolumeClaim %q is not rendered", vol.Name,
				c.ClaimName)
		}
	}
	if spec.ServiceAccountName != "" && v.named("ServiceAccount", spec.ServiceAccountName) == nil {
		v.errorf(d, "serviceAccountName %q is not rendered", spec.ServiceAccountName)
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	if len(spec.Containers) == 0 {
		v.errorf(d, "no containers")
	}
	for _, c := range all {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			v.errorf(d, "container name %q: %s", c.Name, msg)
		}
		if c.Image == "" {
			v.errorf(d, "container %q: image is required", c.Name)
		}
		for _, p := range c.Ports {
			if p.Name != "" {
				for _, msg := range validation.IsValidPortName(p.Name) {
					v.errorf(d, "container %q port %q: %s", c.Name, p.Name, msg)
				}
			}
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				v.errorf(d, "container %q: containerPort %d out of range", c.Name, p.ContainerPort)
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				v.errorf(d, "container %q mounts %q, which is not a volume", c.Name, m.Name)
			}
		}
		for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if probe != nil && probe.HTTPGet != nil && !hasContainerPort(spec, probe.HTTPGet.Port) {
				v.errorf(d, "container %q: probe port %s is not a container port", c.Name,
					probe.HTTPGet.Port.String())
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
				(e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
				v.checkSecretRef(d, "env "+e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		if v.hardened {
			v.checkHardened(d, spec, c)
		}
	}
}

func (v *validator) checkSecretRef(d *doc, what, name string) {
	if v.named("Secret", name) == nil && !v.externalSecrets[name] {
		v.errorf(d, "%s: Secret %q is neither rendered nor declared --external-secret", what, name)
	}
}

func (v *validator) checkHardened(d *doc, spec *corev1.PodSpec, c corev1.Container) {
	pod := spec.SecurityContext
	sc := c.SecurityContext
	nonRoot := (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) ||
		(pod != nil && pod.RunAsNonRoot != nil && *pod.RunAsNonRoot)
	if !nonRoot {
		v.errorf(d, "container %q: runAsNonRoot is not true", c.Name)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		v.errorf(d, "container %q: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		v.errorf(d, "container %q: allowPrivilegeEscalation is not false", c.Name)
	}
	dropsAll := false
	if sc != nil && sc.Capabilities != nil {
		for _, cap := range sc.Capabilities.Drop {
			dropsAll = dropsAll || cap == "ALL"
		}
		if len(sc.Capabilities.Add) > 0 {
			v.errorf(d, "container %q: adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
	}
	if !dropsAll {
		v.errorf(d, "container %q: capabilities do not drop ALL", c.Name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			v.errorf(d, "container %q: no %s request", c.Name, r)
		}
	}
}

func (v *validator) checkServicePort(d *doc, what, service string, port intstr.IntOrString) {
	s := v.named("Service", service)
	if s == nil {
		v.errorf(d, "%s: Service %q is not rendered", what, service)
		return
	}
	for _, p := range s.obj.(*corev1.Service).Spec.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) ||
			(port.Type == intstr.Int && p.Port == port.IntVal) {
			return
		}
	}
	v.errorf(d, "%s: Service %q has no port %s", what, service, port.String())
}

func (v *validator) checkRefs() {
	for _, d := range v.docs {
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			v.checkWorkloadSelector(d, o.Spec.Selector, o.Spec.Template.Labels)
			v.checkLabels(d, "spec.template.metadata.labels", o.Spec.Template.Labels)
			claims := map[string]bool{}
			for _, c := range o.Spec.VolumeClaimTemplates {
				claims[c.Name] = true
			}
			v.checkPodSpec(d, &o.Spec.Template.Spec, claims)
			if svc := v.named("Service", o.Spec.ServiceName); svc == nil {
				v.errorf(d, "serviceName %q is not a rendered Service", o.Spec.ServiceName)
			} else if svc.obj.(*corev1.Service).Spec.ClusterIP != corev1.ClusterIPNone {
				v.errorf(d, "serviceName %q is not a headless Service", o.Spec.ServiceName)
			}
		case *appsv1.Deployment:
			v.checkWorkloadSelector(d, o.Spec.Selector, o.Spec.Template.Labels)
			v.checkLabels(d, "spec.template.metadata.labels", o.Spec.Template.Labels)
			v.checkPodSpec(d, &o.Spec.Template.Spec, nil)
		case *corev1.Pod:
			v.checkPodSpec(d, &o.Spec, nil)
		case *corev1.Service:
			if len(o.Spec.Selector) == 0 {
				continue
			}
			matched := v.selected(d, "spec.selector",
				&metav1.LabelSelector{MatchLabels: o.Spec.Selector})
			for _, p := range o.Spec.Ports {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				for _, m := range matched {
					if !hasContainerPort(m.spec, target) {
						v.errorf(d, "port %q: targetPort %s is not a container port of %s/%s",
							p.Name, target.String(), m.owner.kind, m.owner.name)
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			v.selected(d, "spec.selector", o.Spec.Selector)
			if (o.Spec.MinAvailable == nil) == (o.Spec.MaxUnavailable == nil) {
				v.errorf(d, "set exactly one of minAvailable and maxUnavailable")
			}
		case *networkingv1.NetworkPolicy:
			v.selected(d, "spec.podSelector", &o.Spec.PodSelector)
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := o.Spec.ScaleTargetRef
			if target := v.named(ref.Kind, ref.Name); target == nil ||
				(ref.Kind != "Deployment" && ref.Kind != "StatefulSet") || ref.APIVersion != "apps/v1" {
				v.errorf(d, "scaleTargetRef %s %s/%s is not a rendered workload", ref.APIVersion,
					ref.Kind, ref.Name)
			}
			if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas > o.Spec.MaxReplicas {
				v.errorf(d, "minReplicas %d > maxReplicas %d", *o.Spec.MinReplicas,
					o.Spec.MaxReplicas)
			}
			if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas < 1 {
				v.errorf(d, "minReplicas must be at least 1")
			}
		case *networkingv1.Ingress:
			for _, tls := range o.Spec.TLS {
				if tls.SecretName == "" {
					v.errorf(d, "tls entry for %v has no secretName", tls.Hosts)
				}
			}
			for _, rule := range o.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, path := range rule.HTTP.Paths {
					if path.PathType == nil {
						v.errorf(d, "path %q: pathType is required", path.Path)
					}
					svc := path.Backend.Service
					if svc == nil {
						v.errorf(d, "path %q: backend.service is required", path.Path)
						continue
					}
					port := intstr.FromString(svc.Port.Name)
					if svc.Port.Name == "" {
						port = intstr.FromInt32(svc.Port.Number)
					}
					v.checkServicePort(d, "path "+path.Path, svc.Name, port)
				}
			}
		case *serviceMonitor:
			v.checkServiceMonitor(d, o)
		}
	}
}

func (v *validator) checkWorkloadSelector(d *doc, sel *metav1.LabelSelector,
	podLabels map[string]string) {
	if sel == nil {
		v.errorf(d, "spec.selector is required")
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		v.errorf(d, "spec.selector: %v", err)
		return
	}
	if s.Empty() || !s.Matches(labels.Set(podLabels)) {
		v.errorf(d, "spec.selector %s does not match the pod template labels %v", s.String(),
			podLabels)
	}
}

func (v *validator) checkServiceMonitor(d *doc, o *serviceMonitor) {
	s, err := metav1.LabelSelectorAsSelector(&o.Spec.Selector)
	if err != nil {
		v.errorf(d, "spec.selector: %v", err)
		return
	}
	var services []*corev1.Service
	for _, other := range v.docs {
		if svc, ok := other.obj.(*corev1.Service); ok && !s.Empty() &&
			s.Matches(labels.Set(svc.Labels)) {
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		v.errorf(d, "spec.selector %s matches no rendered Service", s.String())
	}
	if len(o.Spec.Endpoints) == 0 {
		v.errorf(d, "spec.endpoints is empty")
	}
	for _, e := range o.Spec.Endpoints {
		for _, dur := range []string{e.Interval, e.ScrapeTimeout} {
			if dur != "" && !promDuration.MatchString(dur) {
				v.errorf(d, "duration %q does not match the CRD pattern", dur)
			}
		}
		if e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https" {
			v.errorf(d, "scheme %q: want http or https", e.Scheme)
		}
		for _, svc := range services {
			found := false
			for _, p := range svc.Spec.Ports {
				found = found || p.Name == e.Port
			}
			if !found {
				v.errorf(d, "endpoint port %q is not a port of Service %q", e.Port, svc.Name)
			}
		}
	}
}

func writeFile(dir string, parts []string, data []byte) error {
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsRune(p, '/') {
			return fmt.Errorf("unsafe path element %q", p)
		}
	}
	path := filepath.Join(append([]string{dir}, parts...)...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func (v *validator) extract() error {
	for _, d := range v.docs {
		switch o := d.obj.(type) {
		case *corev1.ConfigMap:
			for k, val := range o.Data {
				if err := writeFile(v.extractDir, []string{"configmap", d.name, k},
					[]byte(val)); err != nil {
					return err
				}
			}
		case *corev1.Secret:
			for k, val := range o.Data {
				if err := writeFile(v.extractDir, []string{"secret", d.name, k}, val); err != nil {
					return err
				}
			}
			for k, val := range o.StringData {
				if err := writeFile(v.extractDir, []string{"secret", d.name, k},
					[]byte(val)); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range v.pods() {
		for _, c := range append(append([]corev1.Container{}, p.spec.InitContainers...),
			p.spec.Containers...) {
			var argv bytes.Buffer
			for _, a := range append(append([]string{}, c.Command...), c.Args...) {
				argv.WriteString(a)
				argv.WriteByte(0)
			}
			if err := writeFile(v.extractDir, []string{"command", p.owner.name, c.Name},
				argv.Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}

func main() {
	v := &validator{externalSecrets: map[string]bool{}}
	var files []string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--external-secret" && i+1 < len(args):
			v.externalSecrets[args[i+1]] = true
			i++
		case a == "--extract" && i+1 < len(args):
			v.extractDir = args[i+1]
			i++
		case a == "--hardened":
			v.hardened = true
		case strings.HasPrefix(a, "--"):
			fmt.Fprintf(os.Stderr, "k8s-validate: unknown flag %s\n", a)
			os.Exit(2)
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr,
			"usage: k8s-validate [--external-secret NAME]... [--hardened] [--extract DIR] FILE|- ...")
		os.Exit(2)
	}
	for _, name := range files {
		if name == "-" {
			v.readStream("<stdin>", os.Stdin)
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
			os.Exit(2)
		}
		v.readStream(name, f)
		f.Close()
	}
	v.checkRefs()
	counts := map[string]int{}
	for _, d := range v.docs {
		counts[d.kind]++
	}
	var kinds []string
	for k, n := range counts {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	if len(v.errs) > 0 {
		for _, e := range v.errs {
			fmt.Fprintln(os.Stderr, "k8s-validate: "+e)
		}
		os.Exit(1)
	}
	if len(v.docs) == 0 {
		fmt.Fprintln(os.Stderr, "k8s-validate: no manifests in the input")
		os.Exit(1)
	}
	if v.extractDir != "" {
		if err := v.extract(); err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: --extract: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Printf("k8s-validate: %d manifests valid (%s)\n", len(v.docs), strings.Join(kinds, " "))
}
