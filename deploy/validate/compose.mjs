// compose.mjs - obsflow's rules for docker-compose.yml, read from the normalised output of
// `docker-compose config` on stdin (docker-compose itself checks the file against its schema):
//   docker-compose -f docker-compose.yml config | node deploy/validate/compose.mjs
// obsflowd is built from deploy/Dockerfile, starts after a healthy PostgreSQL and S3 server and
// the migrations, runs read-only with writable work directories, and gets more than
// OBSFLOW_SHUTDOWN_GRACE seconds to stop. Exits 1 when a rule fails.
import fs from 'node:fs';
import { load } from 'js-yaml';

const c = load(fs.readFileSync(0, 'utf8')) || {};
let failed = 0;
const fail = (m) => { failed++; console.log(`FAIL docker-compose.yml: ${m}`); };
const svc = c.services || {};
const d = svc.obsflowd;
const seconds = (v) => {
  const m = String(v ?? '').match(/^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/);
  return m && (m[1] || m[2]) ? Number(m[1] || 0) * 60 + Number(m[2] || 0) : NaN;
};
if (!d) {
  fail('no obsflowd service');
} else {
  if (!String(d.build?.dockerfile || '').endsWith('deploy/Dockerfile')) fail('obsflowd is not built from deploy/Dockerfile');
  const env = d.environment || {};
  const dep = d.depends_on || {};
  for (const [name, cond] of [['db', 'service_healthy'], ['s3', 'service_healthy'], ['migrate', 'service_completed_successfully']]) {
    if (dep[name]?.condition !== cond) fail(`obsflowd must depend on ${name} with condition ${cond}`);
  }
  for (const name of ['db', 's3']) if (!svc[name]?.healthcheck?.test) fail(`${name} has no healthcheck`);
  if (!/@db[:/]/.test(env.OBSFLOW_DATABASE_URL || '')) fail('OBSFLOW_DATABASE_URL does not name the db service');
  if (!/^https?:\/\/s3:\d+$/.test(env.AWS_ENDPOINT_URL_S3 || '')) fail('AWS_ENDPOINT_URL_S3 does not name the s3 service');
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) fail('the S3 keys are not set');
  const grace = Number(env.OBSFLOW_SHUTDOWN_GRACE ?? 25);
  if (!(seconds(d.stop_grace_period) > grace)) fail(`stop_grace_period ${d.stop_grace_period} must exceed OBSFLOW_SHUTDOWN_GRACE ${grace} s`);
  if (d.read_only !== true) fail('obsflowd must run read_only');
  const mounts = [...(d.tmpfs || []), ...(d.volumes || []).map((v) => (typeof v === 'string' ? v.split(':')[1] : v.target))];
  for (const dir of ['/tmp', '/var/lib/obsflow/work', '/var/lib/obsflow/data']) if (!mounts.includes(dir)) fail(`${dir} is not a volume or tmpfs`);
  const m = svc.migrate;
  if (!m || (m.entrypoint || []).join(' ') !== '/usr/local/bin/obsflow migrate') fail('no migrate service running obsflow migrate');
  else if (m.image !== d.image) fail('migrate and obsflowd use different images');
  if (!(d.ports || []).every((p) => String(p.host_ip ?? p).startsWith('127.0.0.1'))) fail('obsflowd publishes on more than 127.0.0.1');
}
console.log(failed ? `${failed} compose check(s) failed` : 'ok   docker-compose.yml rules');
process.exit(failed ? 1 : 0);
