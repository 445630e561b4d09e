// validate.mjs - offline checks of a directory of Kubernetes manifests (deploy/k8s):
//   node deploy/validate/validate.mjs deploy/k8s [SOURCE_DIR]
// 1. every document of every *.yaml file (kustomization.yaml aside) against the Kubernetes
//    OpenAPI schemas of the pinned kubernetes-models package, strictly: a field the schema does
//    not know (a typo such as readOnlyRootFileSystem) is refused too, as the API server's strict
//    field validation refuses it;
// 2. kustomization.yaml lists files that exist, and every manifest but secret.example.yaml;
// 3. obsflow's own rules: probes on /livez and /readyz, terminationGracePeriodSeconds above the
//    preStop sleep plus OBSFLOW_SHUTDOWN_GRACE (its default read from service/config.c), a
//    non-root read-only container whose work directories are writable volumes, the database
//    URL, API token and S3 keys only through secretKeyRef, resources, a migration Job running
//    `obsflow migrate`, Service/PDB/HPA pointing at the Deployment, and only environment names
//    obsflowd or lib/storage read.
// Prints one line per document and per failed rule; exits 1 when anything failed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll, load } from 'js-yaml';

const dir = process.argv[2];
const src = process.argv[3] || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
if (!dir) {
  console.error('usage: node validate.mjs K8S_DIR [SOURCE_DIR]');
  process.exit(2);
}
let failed = 0;
const fail = (msg) => { failed++; console.log(`FAIL ${msg}`); };

// ---- 1. schema validation, strict about unknown fields ---------------------------------------

// Wrap a parsed document in proxies that record which keys the schema's validator reads: the
// compiled validators read each property their schema declares (and every key of a free map),
// so a key never read is one the schema does not know.
function track(obj, where, out) {
  if (obj === null || typeof obj !== 'object') return obj;
  const read = new Set();
  out.push({ where, obj, read });
  const copy = Array.isArray(obj)
    ? obj.map((v, i) => track(v, `${where}/${i}`, out))
    : Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, track(v, `${where}/${k}`, out)]));
  return new Proxy(copy, {
    get(t, k, r) { if (typeof k === 'string') read.add(k); return Reflect.get(t, k, r); },
    has(t, k) { if (typeof k === 'string') read.add(k); return Reflect.has(t, k); },
  });
}

async function modelOf(doc) {
  const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
  const mod = group ? `kubernetes-models/${group}/${version}/${doc.kind}` : `kubernetes-models/${version}/${doc.kind}`;
  return (await import(mod))[doc.kind];
}

async function validateSchema(file, doc) {
  const name = `${file} ${doc?.kind}/${doc?.metadata?.name}`;
  if (!doc || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
    fail(`${name}: not a Kubernetes object (apiVersion and kind)`);
    return false;
  }
  let M;
  try {
    M = await modelOf(doc);
  } catch {
    M = undefined;
  }
  if (typeof M !== 'function' || typeof M.prototype.validate !== 'function') {
    fail(`${name}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
    return false;
  }
  const seen = [];
  try {
    M.prototype.validate.call(track(doc, '', seen));
  } catch (e) {
    fail(`${name}: ${e.message.split('\n').slice(0, 6).join(' | ')}`);
    return false;
  }
  const unknown = [];
  for (const { where, obj, read } of seen) {
    if (Array.isArray(obj)) continue;
    for (const k of Object.keys(obj)) if (!read.has(k)) unknown.push(`${where}/${k}`);
  }
  if (unknown.length) {
    fail(`${name}: unknown field(s) ${unknown.join(', ')}`);
    return false;
  }
  console.log(`ok   ${name}`);
  return true;
}

const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const docs = [];
for (const f of files) {
  if (f === 'kustomization.yaml') continue;
  let parsed;
  try {
    parsed = loadAll(fs.readFileSync(path.join(dir, f), 'utf8')).filter((d) => d != null);
  } catch (e) {
    fail(`${f}: YAML: ${e.message.split('\n')[0]}`);
    continue;
  }
  for (const doc of parsed) {
    if (await validateSchema(f, doc)) docs.push({ file: f, doc });
  }
}

// ---- 2. the kustomization ---------------------------------------------------------------------

const kpath = path.join(dir, 'kustomization.yaml');
let listed = [];
if (!fs.existsSync(kpath)) {
  fail('kustomization.yaml is missing');
} else {
  const k = load(fs.readFileSync(kpath, 'utf8')) || {};
  if (k.kind !== 'Kustomization' || !Array.isArray(k.resources)) fail('kustomization.yaml: kind Kustomization with resources expected');
  listed = Array.isArray(k.resources) ? k.resources : [];
  for (const r of listed) if (!files.includes(r)) fail(`kustomization.yaml: resource ${r} does not exist`);
  for (const f of files) {
    if (f !== 'kustomization.yaml' && f !== 'secret.example.yaml' && !listed.includes(f)) fail(`kustomization.yaml does not list ${f}`);
  }
  if (listed.includes('secret.example.yaml')) fail('kustomization.yaml must not apply secret.example.yaml (placeholder values)');
}

// ---- 3. obsflow's rules -----------------------------------------------------------------------

const read = (p) => fs.readFileSync(path.join(src, p), 'utf8');
const configC = read('service/config.c');
const envBlock = configC.match(/env_names\[\]\s*=\s*\{([^}]*)\}/);
const knownEnv = new Set(envBlock ? [...envBlock[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]) : []);
for (const m of read('lib/storage/storage.c').matchAll(/"(AWS_[A-Z0-9_]+)"/g)) knownEnv.add(m[1]);
knownEnv.add('TMPDIR');
const graceDefault = Number((configC.match(/shutdown_grace_s\s*=\s*(\d+)\s*;/) || [])[1]);
if (!envBlock || !knownEnv.has('OBSFLOW_SHUTDOWN_GRACE') || !knownEnv.has('AWS_ACCESS_KEY_ID') || !(graceDefault > 0)) {
  fail('cannot read the environment names or the OBSFLOW_SHUTDOWN_GRACE default from service/config.c and lib/storage/storage.c');
}
const SECRET_ENV = ['OBSFLOW_DATABASE_URL', 'OBSFLOW_API_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
const secretish = (n) => SECRET_ENV.includes(n) || /TOKEN|SECRET|PASSWORD|CERT/.test(n);

const byKind = (kind) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const one = (kind) => {
  const v = byKind(kind);
  if (v.length !== 1) fail(`expected exactly one ${kind}, found ${v.length}`);
  return v[0];
};
const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c]));
const secretDocs = loadAll(fs.existsSync(path.join(dir, 'secret.example.yaml')) ? fs.readFileSync(path.join(dir, 'secret.example.yaml'), 'utf8') : '').filter(Boolean);
const secretKeys = new Map(secretDocs.map((s) => [s.metadata.name, new Set(Object.keys({ ...s.data, ...s.stringData }))]));

for (const cm of configMaps.values()) {
  for (const [k, v] of Object.entries(cm.data || {})) {
    if (/^(OBSFLOW|AWS)_/.test(k) && !knownEnv.has(k)) fail(`ConfigMap/${cm.metadata.name}: ${k} is not a setting obsflowd reads`);
    if (secretish(k)) fail(`ConfigMap/${cm.metadata.name}: ${k} is a secret: use a Secret and secretKeyRef`);
    if (typeof v !== 'string') fail(`ConfigMap/${cm.metadata.name}: ${k} must be a string`);
  }
}

// The environment a container sees: its envFrom ConfigMaps, then env (which wins).
function containerEnv(c, where) {
  const env = new Map();
  for (const ef of c.envFrom || []) {
    if (ef.configMapRef) {
      const cm = configMaps.get(ef.configMapRef.name);
      if (!cm) { fail(`${where}: envFrom ConfigMap ${ef.configMapRef.name} is not in the manifests`); continue; }
      for (const [k, v] of Object.entries(cm.data || {})) env.set(k, { value: v });
    } else {
      fail(`${where}: envFrom only from ConfigMaps (secrets by name, through secretKeyRef)`);
    }
  }
  for (const e of c.env || []) env.set(e.name, e.value !== undefined ? { value: e.value } : { from: e.valueFrom });
  for (const [k, e] of env) {
    if (/^(OBSFLOW|AWS)_/.test(k) && !knownEnv.has(k)) fail(`${where}: ${k} is not a setting obsflowd reads`);
    if (secretish(k)) {
      const ref = e.from?.secretKeyRef;
      if (!ref) fail(`${where}: ${k} must come from a Secret (valueFrom.secretKeyRef)`);
      else if (!secretKeys.get(ref.name)?.has(ref.key)) fail(`${where}: ${k} names key ${ref.key} of Secret ${ref.name}, absent from secret.example.yaml`);
    }
  }
  return env;
}

function checkSecurity(podSpec, c, where) {
  const pod = podSpec.securityContext || {};
  const sc = c.securityContext || {};
  const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
  const uid = sc.runAsUser ?? pod.runAsUser;
  if (nonRoot !== true) fail(`${where}: runAsNonRoot must be true`);
  if (!(Number.isInteger(uid) && uid > 0)) fail(`${where}: runAsUser must be a non-zero uid`);
  if (sc.readOnlyRootFilesystem !== true) fail(`${where}: readOnlyRootFilesystem must be true`);
  if (sc.allowPrivilegeEscalation !== false) fail(`${where}: allowPrivilegeEscalation must be false`);
  if (sc.privileged === true) fail(`${where}: privileged`);
  if (!(sc.capabilities?.drop || []).includes('ALL')) fail(`${where}: capabilities must drop ALL`);
  if ((sc.capabilities?.add || []).length) fail(`${where}: capabilities added: ${sc.capabilities.add.join(',')}`);
  const r = c.resources || {};
  for (const q of ['cpu', 'memory']) if (r.requests?.[q] === undefined) fail(`${where}: resources.requests.${q} missing`);
  if (r.limits?.memory === undefined) fail(`${where}: resources.limits.memory missing`);
}

// A directory is writable when a volume that is not read-only is mounted at it or above it.
function writable(podSpec, c, dirPath) {
  return (c.volumeMounts || []).some((m) => {
    const vol = (podSpec.volumes || []).find((v) => v.name === m.name);
    const under = dirPath === m.mountPath || dirPath.startsWith(m.mountPath.replace(/\/$/, '') + '/');
    return under && !m.readOnly && vol && (vol.emptyDir || vol.persistentVolumeClaim || vol.ephemeral);
  });
}

const portOf = (c, port) => (c.ports || []).find((p) => p.name === port || p.containerPort === port);

const dep = one('Deployment');
if (dep) {
  const pod = dep.spec.template.spec;
  const labels = dep.spec.template.metadata?.labels || {};
  const sel = dep.spec.selector?.matchLabels || {};
  for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) fail(`Deployment: selector ${k}=${v} does not match the pod labels`);
  const c = pod.containers.find((x) => x.name === 'obsflowd');
  if (!c) fail('Deployment: no container named obsflowd');
  else {
    const where = 'Deployment/obsflowd';
    const env = containerEnv(c, where);
    for (const k of SECRET_ENV) if (!env.has(k)) fail(`${where}: ${k} is not set (secretKeyRef expected)`);
    const probe = (kind, paths) => {
      const p = c[kind];
      if (!p?.httpGet) { fail(`${where}: ${kind} with httpGet missing`); return; }
      if (!paths.includes(p.httpGet.path)) fail(`${where}: ${kind} must probe ${paths.join(' or ')}, not ${p.httpGet.path}`);
      if (!portOf(c, p.httpGet.port)) fail(`${where}: ${kind} port ${p.httpGet.port} is not a container port`);
    };
    probe('livenessProbe', ['/livez']);
    probe('readinessProbe', ['/readyz']);
    probe('startupProbe', ['/livez', '/readyz']);
    const listen = env.get('OBSFLOW_LISTEN')?.value || '127.0.0.1:8080';
    const lport = Number(listen.split(':').pop());
    if (!(c.ports || []).some((p) => p.containerPort === lport)) fail(`${where}: OBSFLOW_LISTEN ${listen} is not a container port`);
    if (!/^(0\.0\.0\.0|\[::\]):/.test(listen)) fail(`${where}: OBSFLOW_LISTEN ${listen} does not listen on all addresses (probes come from the node)`);
    const graceEnv = env.get('OBSFLOW_SHUTDOWN_GRACE');
    const grace = graceEnv ? Number(graceEnv.value) : graceDefault;
    if (!Number.isInteger(grace)) fail(`${where}: OBSFLOW_SHUTDOWN_GRACE ${graceEnv?.value} is not a number`);
    const cmd = c.lifecycle?.preStop?.exec?.command || [];
    const sleep = /sleep$/.test(cmd[0] || '') ? Number(cmd[1]) : 0;
    const tgps = pod.terminationGracePeriodSeconds ?? 30;
    if (!(tgps > sleep + grace)) fail(`${where}: terminationGracePeriodSeconds ${tgps} must exceed the preStop sleep ${sleep} s + OBSFLOW_SHUTDOWN_GRACE ${grace} s`);
    else console.log(`ok   Deployment: terminationGracePeriodSeconds ${tgps} > preStop ${sleep} s + OBSFLOW_SHUTDOWN_GRACE ${grace} s`);
    checkSecurity(pod, c, where);
    const dirs = ['/tmp'];
    for (const k of ['OBSFLOW_WORK_DIR', 'OBSFLOW_DATA_ROOTS', 'OBSFLOW_REFERENCE_CACHE']) {
      const v = env.get(k)?.value;
      if (v) dirs.push(...v.split(':').filter(Boolean));
      else if (k === 'OBSFLOW_WORK_DIR') fail(`${where}: OBSFLOW_WORK_DIR must be set to a volume (its default is /tmp)`);
    }
    for (const d of dirs) if (!writable(pod, c, d)) fail(`${where}: ${d} is not on a writable volume (the root filesystem is read-only)`);
  }
  for (const x of [...(pod.initContainers || []), ...pod.containers]) {
    if (x !== c) checkSecurity(pod, x, `Deployment/${x.name}`);
  }
  const hpa = one('HorizontalPodAutoscaler');
  if (hpa) {
    if (hpa.apiVersion !== 'autoscaling/v2') fail(`HorizontalPodAutoscaler: autoscaling/v2 expected, not ${hpa.apiVersion}`);
    const t = hpa.spec.scaleTargetRef;
    if (t.kind !== 'Deployment' || t.name !== dep.metadata.name) fail('HorizontalPodAutoscaler: scaleTargetRef is not the Deployment');
    if (!((hpa.spec.minReplicas ?? 1) >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas)) fail('HorizontalPodAutoscaler: minReplicas >= 2 and maxReplicas >= minReplicas expected');
    if (c && (hpa.spec.metrics || []).some((m) => m.resource?.name === 'cpu') && !c.resources?.requests?.cpu) fail('HorizontalPodAutoscaler: CPU utilisation needs a CPU request');
  }
  for (const kind of ['Service', 'PodDisruptionBudget']) {
    const o = one(kind);
    if (!o) continue;
    const s = kind === 'Service' ? o.spec.selector : o.spec.selector?.matchLabels;
    if (!s || !Object.keys(s).length || Object.entries(s).some(([k, v]) => labels[k] !== v)) fail(`${kind}/${o.metadata.name}: selector does not select the Deployment's pods`);
    if (kind === 'Service' && c) for (const p of o.spec.ports) if (!portOf(c, p.targetPort ?? p.port)) fail(`Service: targetPort ${p.targetPort} is not a container port`);
  }
}

const job = one('Job');
if (job) {
  const pod = job.spec.template.spec;
  const c = pod.containers[0];
  const where = `Job/${job.metadata.name}`;
  const cmd = [...(c.command || []), ...(c.args || [])];
  if (!(/(^|\/)obsflow$/.test(cmd[0] || '') && cmd[1] === 'migrate')) fail(`${where}: must run obsflow migrate, not ${cmd.join(' ')}`);
  const env = containerEnv(c, where);
  if (!env.get('OBSFLOW_DATABASE_URL')?.from?.secretKeyRef) fail(`${where}: OBSFLOW_DATABASE_URL from secretKeyRef expected`);
  if (dep && c.image !== dep.spec.template.spec.containers[0].image) fail(`${where}: image ${c.image} differs from the Deployment's`);
  if (!['OnFailure', 'Never'].includes(pod.restartPolicy)) fail(`${where}: restartPolicy OnFailure or Never expected`);
  checkSecurity(pod, c, where);
}

console.log(failed ? `${failed} check(s) failed` : `all checks passed (${docs.length} documents)`);
process.exit(failed ? 1 : 0);
