// The Kubernetes recipe of examples/remote-hosts/kubernetes, parsed as Kubernetes would read it
// and held to what the API server requires of each object (names, selectors, ports, probes,
// resources, the Secrets and ConfigMaps it mounts) and to what the pool needs of it: a headless
// Service whose DNS name and port the service's pool is given, over the agents' own port.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './helpers.js';

type Obj = Record<string, unknown>;

const dir = join(repoRoot, 'examples', 'remote-hosts', 'kubernetes');

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
  for (const doc of docs) expect(doc.errors, `${file}: ${doc.errors.map((e) => e.message).join('; ')}`).to.deep.equal([]);
  return docs.map((doc) => doc.toJS() as Obj).filter((o) => o !== null);
}

function obj(value: unknown, where: string): Obj {
  expect(value, `${where} must be a mapping`).to.be.an('object').and.not.be.an('array');
  return value as Obj;
}

function list(value: unknown, where: string): Obj[] {
  expect(value, `${where} must be a list`).to.be.an('array');
  return value as Obj[];
}

/** RFC 1123 label, as Kubernetes requires of Service and port names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain, as Kubernetes requires of most object names. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes quantities: CPU (`500m`, `2`) and memory (`512Mi`, `16Gi`), in base units. */
function quantity(value: unknown, where: string): number {
  const text = String(value);
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(text);
  expect(match, `${where}: ${text} is not a Kubernetes quantity`).to.not.equal(null);
  const scale: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match![1]) * (match![2] ? scale[match![2]]! : 1);
}

const HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];

function checkProbe(probe: unknown, where: string, ports: Map<string, number>): void {
  const p = obj(probe, where);
  const handlers = HANDLERS.filter((h) => h in p);
  expect(handlers, `${where} must have exactly one handler`).to.have.length(1);
  const handler = obj(p[handlers[0]!], `${where}.${handlers[0]}`);
  if ('port' in handler) {
    const port = handler.port;
    if (typeof port === 'string') expect(ports.has(port), `${where}: port ${port} names no container port`).to.equal(true);
    else expect(port).to.be.a('number').within(1, 65_535);
  }
  if (handlers[0] === 'httpGet') expect(String(handler.path)).to.match(/^\//);
}

/** A Deployment as apps/v1 requires it; returns its pod template's labels and containers. */
function checkDeployment(d: Obj, configs: Set<string>, secrets: Set<string>): { labels: Obj; containers: Obj[] } {
  const name = String(obj(d.metadata, 'metadata').name);
  const spec = obj(d.spec, `${name}.spec`);
  const selector = obj(obj(spec.selector, `${name}.spec.selector`).matchLabels, `${name}.spec.selector.matchLabels`);
  const template = obj(spec.template, `${name}.spec.template`);
  const labels = obj(obj(template.metadata, `${name}.template.metadata`).labels, `${name}.template.metadata.labels`);
  for (const [k, v] of Object.entries(selector)) expect(labels[k], `${name}: the selector ${k}=${String(v)} must match the pod template's labels`).to.equal(v);
  if (spec.replicas !== undefined) expect(spec.replicas).to.be.a('number').at.least(0);
  const pod = obj(template.spec, `${name}.template.spec`);
  const volumes = new Map(list(pod.volumes ?? [], `${name}.volumes`).map((v) => [String(v.name), v]));
  for (const [volume, v] of volumes) {
    expect(volume).to.match(DNS_LABEL);
    if (v.secret) secrets.add(String(obj(v.secret, 'secret').secretName));
    if (v.configMap) expect(configs.has(String(obj(v.configMap, 'configMap').name)), `${name}: volume ${volume} mounts a ConfigMap not in the manifests`).to.equal(true);
  }
  const containers = list(pod.containers, `${name}.containers`);
  expect(containers.length).to.be.greaterThan(0);
  for (const c of containers) {
    const where = `${name}/${String(c.name)}`;
    expect(String(c.name)).to.match(DNS_LABEL);
    expect(c.image, `${where}.image`).to.be.a('string').and.not.equal('');
    const ports = new Map<string, number>();
    for (const port of list(c.ports ?? [], `${where}.ports`)) {
      expect(port.containerPort, `${where}: containerPort`).to.be.a('number').within(1, 65_535);
      if (port.name !== undefined) {
        expect(String(port.name), `${where}: a port name is at most 15 characters`).to.match(DNS_LABEL).and.have.length.at.most(15);
        ports.set(String(port.name), port.containerPort as number);
      }
    }
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) if (c[probe] !== undefined) checkProbe(c[probe], `${where}.${probe}`, ports);
    expect(c.readinessProbe, `${where} needs a readiness probe`).to.not.equal(undefined);
    expect(c.livenessProbe, `${where} needs a liveness probe`).to.not.equal(undefined);
    const resources = obj(c.resources, `${where}.resources`);
    const requests = obj(resources.requests, `${where}.resources.requests`);
    const limits = obj(resources.limits, `${where}.resources.limits`);
    for (const kind of ['cpu', 'memory']) {
      expect(quantity(requests[kind], `${where} request ${kind}`), `${where}: ${kind} request above its limit`).to.be.at.most(quantity(limits[kind], `${where} limit ${kind}`));
    }
    for (const mount of list(c.volumeMounts ?? [], `${where}.volumeMounts`)) {
      expect(volumes.has(String(mount.name)), `${where}: mounts volume ${String(mount.name)}, which the pod does not have`).to.equal(true);
      expect(String(mount.mountPath)).to.match(/^\//);
    }
    for (const env of list(c.env ?? [], `${where}.env`)) {
      expect(String(env.name)).to.match(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/);
      expect('value' in env !== 'valueFrom' in env, `${where}: env ${String(env.name)} needs value or valueFrom`).to.equal(true);
      if ('value' in env) expect(env.value, `${where}: env ${String(env.name)} must be a string`).to.be.a('string');
      const ref = env.valueFrom && (env.valueFrom as Obj).secretKeyRef;
      if (ref) secrets.add(String((ref as Obj).name));
    }
  }
  return { labels, containers };
}

describe('the Kubernetes recipe (examples/remote-hosts/kubernetes)', () => {
  const agents = load('agents.yaml');
  const service = load('service.yaml');
  const all = [...agents, ...service];
  const configs = new Set(all.filter((o) => o.kind === 'ConfigMap').map((o) => String(obj(o.metadata, 'metadata').name)));
  const secrets = new Set<string>();

  it('every object has an apiVersion and kind Kubernetes knows, a valid name and one namespace', () => {
    const known: Record<string, string> = { ConfigMap: 'v1', Service: 'v1', Secret: 'v1', Deployment: 'apps/v1' };
    expect(all.length).to.be.greaterThan(3);
    for (const o of all) {
      expect(known[String(o.kind)], `unknown kind ${String(o.kind)}`).to.equal(o.apiVersion);
      const meta = obj(o.metadata, 'metadata');
      expect(String(meta.name)).to.match(o.kind === 'Service' ? DNS_LABEL : DNS_SUBDOMAIN);
      expect(meta.namespace).to.equal('ml');
    }
  });

  it('the agents: a headless Service over a Deployment whose pods serve its port, keys from a Secret, probes and resources', () => {
    const svc = agents.find((o) => o.kind === 'Service')!;
    const spec = obj(svc.spec, 'service spec');
    expect(spec.clusterIP, 'headless: the name resolves to the pods, not a virtual IP').to.equal('None');
    const deployment = agents.find((o) => o.kind === 'Deployment')!;
    const { labels, containers } = checkDeployment(deployment, configs, secrets);
    for (const [k, v] of Object.entries(obj(spec.selector, 'service selector'))) expect(labels[k], `the Service selects ${k}=${String(v)}`).to.equal(v);
    const [port] = list(spec.ports, 'service ports');
    const agent = containers[0]!;
    const named = list(agent.ports, 'agent ports').find((p) => p.name === port!.targetPort || p.containerPort === port!.targetPort);
    expect(named, 'the Service targets the agent container port').to.not.equal(undefined);
    expect(port!.port).to.equal(named!.containerPort);
    const command = [...list(agent.command ?? [], 'command'), ...list(agent.args ?? [], 'args')].join(' ');
    expect(command).to.include('piton.agent').and.include('--secret-key-file').and.include('--interface');
    expect(secrets.has('piton-agent-key'), 'the agent key comes from a Secret').to.equal(true);
    const lifecycle = obj(agent.lifecycle, 'lifecycle');
    expect(lifecycle.preStop, 'a preStop delay lets pools drain the host before the agent stops').to.not.equal(undefined);
  });

  it('the service: a Deployment whose pool is given the agents\' DNS name and port, its keys from a Secret', () => {
    const deployment = service.find((o) => o.kind === 'Deployment')!;
    const { containers } = checkDeployment(deployment, configs, secrets);
    const env = new Map(list(containers[0]!.env, 'env').map((e) => [String(e.name), e]));
    const svc = agents.find((o) => o.kind === 'Service')!;
    const meta = obj(svc.metadata, 'service metadata');
    expect(env.get('PITON_AGENTS_DNS')?.value).to.equal(`${String(meta.name)}.${String(meta.namespace)}.svc.cluster.local`);
    expect(Number(env.get('PITON_AGENTS_PORT')?.value)).to.equal(list(obj(svc.spec, 'spec').ports, 'ports')[0]!.port);
    for (const key of ['PITON_AGENT_PUBLIC_KEY', 'PITON_POOL_PUBLIC_KEY', 'PITON_POOL_SECRET_KEY']) {
      expect(obj(env.get(key)?.valueFrom, `${key}.valueFrom`).secretKeyRef, `${key} comes from a Secret`).to.not.equal(undefined);
    }
    expect(secrets.has('piton-pool-keys')).to.equal(true);
  });
});
