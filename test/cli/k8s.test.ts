import { type IJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { cli } from '../helpers/cli.js';
import { scenarioFile, scratch } from '../helpers/runs.js';

/** rtmpbench k8s: manifests for a run spread over a cluster, one share per node. */

const dir = scratch('k8s');
const TARGET = 'rtmp://rtmp.example.net:1935/live';

interface Manifest {
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}

/** The printed YAML stream as objects, each checked against the Kubernetes API schema. */
function manifests(stdout: string): Manifest[] {
  return parseAllDocuments(stdout).map((d) => {
    expect(d.errors).toEqual([]);
    const m = d.toJSON() as Manifest;
    const model = { ConfigMap, Service, Job }[m.kind as 'ConfigMap' | 'Service' | 'Job'];
    expect(model, `a ${m.kind}`).toBeDefined();
    new model(m as never).validate();
    return m;
  });
}

const jobs = (ms: Manifest[]) => ms.filter((m) => m.kind === 'Job') as unknown as IJob[];
const script = (job: IJob) => job.spec!.template.spec!.containers[0]!.command![2]!;

describe('rtmpbench k8s', () => {
  let printed: Manifest[] = [];
  beforeAll(async () => {
    const r = await cli([
      'k8s',
      'quickstart',
      '--shares',
      '3',
      '--image',
      'registry.example.net/rtmpbench:0.1',
      '--target',
      TARGET,
      '--run-id',
      'run-42',
      '--players',
      '20',
      '--threshold',
      'latency.endToEnd.p99 < 250ms',
      '--max-late',
      '2s',
      '--start-at',
      '2099-01-01T00:00:00Z',
      '--namespace',
      'load',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    printed = manifests(r.stdout);
  });

  it('prints the scenario, a headless service and one indexed Job of N shares that never retries a share', () => {
    expect(printed.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'ConfigMap/rtmpbench-run-42-scenario',
      'Service/rtmpbench-run-42',
      'Job/rtmpbench-run-42',
    ]);
    const job = jobs(printed)[0]!;
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimit: 0 });
    const service = printed[1] as unknown as Service;
    expect(service.spec).toMatchObject({ clusterIP: 'None', selector: job.spec!.template.metadata!.labels });
    expect(job.spec!.template.spec!.subdomain).toBe(service.metadata!.name);
    expect(printed.every((m) => (m.metadata as { namespace?: string }).namespace === 'load')).toBe(true);
  });

  it('places each share on a node of its own', () => {
    const job = jobs(printed)[0]!;
    const terms = job.spec!.template.spec!.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution!;
    expect(terms).toHaveLength(1);
    expect(terms[0]!.topologyKey).toBe('kubernetes.io/hostname');
    expect(terms[0]!.labelSelector!.matchLabels).toEqual(job.spec!.template.metadata!.labels);
  });

  it('embeds the scenario file and gives every share the run id, its index, and the flags given', () => {
    const config = printed[0] as unknown as ConfigMap;
    expect(config.data!['scenario.yaml']).toMatch(/^name: quickstart$/m);
    const job = jobs(printed)[0]!;
    const s = script(job);
    expect(s).toContain('run /scenario/scenario.yaml --shard "$i/3" --run-id run-42');
    expect(s).toContain('i="$JOB_COMPLETION_INDEX"');
    const container = job.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('registry.example.net/rtmpbench:0.1');
    expect(container.args).toEqual([
      '--target',
      TARGET,
      '--players',
      '20',
      '--threshold',
      'latency.endToEnd.p99 < 250ms',
      '--max-late',
      '2s',
    ]);
  });

  it('has share 0 serve the coordinator (with the start time) and the others join it by its pod name', () => {
    const s = script(jobs(printed)[0]!);
    expect(s).toMatch(
      /if \[ "\$i" = 0 \]; then set -- "\$@" --coordinate 0\.0\.0\.0:7400 --start-at 2099-01-01T00:00:00Z\n/,
    );
    expect(s).toMatch(/else set -- "\$@" --coordinator http:\/\/rtmpbench-run-42-0\.rtmpbench-run-42:7400; fi/);
  });

  it('without a shared volume, a share prints its results in its log whether or not it passed', () => {
    const job = jobs(printed)[0]!;
    expect(job.spec!.template.spec!.volumes).toContainEqual({ name: 'results', emptyDir: {} });
    expect(script(job)).toMatch(/code=0; node .* \|\| code=\$\?\necho rtmpbench-results-begin; tar .*\nexit "\$code"$/);
  });

  it('with a ReadWriteMany claim, shares write there and a second Job merges them', async () => {
    const r = await cli([
      'k8s',
      'quickstart',
      '--shares',
      '2',
      '--image',
      'rtmpbench',
      '--target',
      TARGET,
      '--results-volume',
      'rtmp-results',
    ]);
    expect(r.code).toBe(0);
    const [shares, merge] = jobs(manifests(r.stdout));
    const runId = /^# rtmpbench run (\S+):/.exec(r.stdout)![1]!;
    expect(script(shares!)).toContain(
      `exec node /app/dist/src/cli/main.js run /scenario/scenario.yaml --shard "$i/2" --run-id ${runId} --out "/results/${runId}/share-$i"`,
    );
    for (const job of [shares!, merge!])
      expect(job.spec!.template.spec!.volumes).toContainEqual({
        name: 'results',
        persistentVolumeClaim: { claimName: 'rtmp-results' },
      });
    expect(merge!.spec!.backoffLimit).toBe(0);
    expect(script(merge!)).toContain(`merge /results/${runId}/share-*/*/ --out /results/${runId} --name merged`);
  });

  it('with one share, prints no merge step', async () => {
    for (const claim of [[], ['--results-volume', 'rtmp-results']]) {
      const r = await cli(['k8s', 'quickstart', '--shares', '1', '--image', 'i', '--target', TARGET, ...claim]);
      expect(r.code).toBe(0);
      expect(jobs(manifests(r.stdout)).map((j) => j.metadata!.name)).toHaveLength(1);
      expect(r.stdout).not.toMatch(/rtmpbench merge/);
    }
  });

  it('a generated run id is new each time', async () => {
    const ids = await Promise.all(
      [0, 1].map(async () => {
        const r = await cli(['k8s', 'quickstart', '--shares', '2', '--image', 'i', '--target', TARGET]);
        return /^# rtmpbench run (\S+):/.exec(r.stdout)![1];
      }),
    );
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('exits 2 and prints nothing for no shares, no image, a built-in target or a bad scenario', async () => {
    const bad = scenarioFile(dir, 'bad', 'name: bad\nstreams: -1\n');
    const cases: [string[], RegExp][] = [
      [['quickstart', '--shares', '0', '--image', 'i', '--target', TARGET], /--shares: "0" is not a number of shares/],
      [['quickstart', '--shares', '2', '--target', TARGET], /--image: the container image is needed/],
      [['quickstart', '--shares', '2', '--image', 'i'], /the shares need one server to load/],
      [[bad, '--shares', '2', '--image', 'i', '--target', TARGET], /bad\.yaml:2: streams/],
      [['no-such-scenario', '--shares', '2', '--image', 'i'], /no scenario file "no-such-scenario"/],
    ];
    for (const [args, why] of cases) {
      const r = await cli(['k8s', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(why);
    }
  });
});
