import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Service, type IVolume } from 'kubernetes-models/v1';
import { stringify } from 'yaml';

/**
 * A run spread over a Kubernetes cluster, as manifests: the scenario in a ConfigMap, a headless
 * Service that names the shares' pods, an Indexed Job with one pod per share (each on a node of
 * its own), and, with a shared volume, a Job that merges the shares' results. Share 0 serves the
 * coordinator; the others find it at `<job>-0.<job>` (an Indexed Job's pod is named after its
 * index, and the Service is its subdomain). Objects are typed and validated against the
 * Kubernetes API schemas before anything is printed.
 */

/** Where the container image has the CLI, the scenario and the results. */
const CLI = 'node /app/dist/src/cli/main.js';
const SCENARIO_DIR = '/scenario';
const SCENARIO_FILE = 'scenario.yaml';
const RESULTS_DIR = '/results';
/** The coordinator's port in share 0's pod. */
const COORDINATOR_PORT = 7400;
/** Lines around a share's results in its log, when there is no shared volume to write them to. */
const RESULTS_BEGIN = 'rtmpbench-results-begin';
const RESULTS_END = 'rtmpbench-results-end';
/** How long the merge Job waits for the shares beyond the run's own length and start timeout. */
const MERGE_MARGIN_S = 300;

export interface K8sRunOptions {
  /** The scenario file's text, as every share reads it. */
  scenarioText: string;
  shares: number;
  image: string;
  runId: string;
  /** Name of the Job, Service and ConfigMap (a DNS label); default from the run id. */
  name?: string;
  namespace?: string;
  /** A ReadWriteMany PersistentVolumeClaim the shares write their results to and the merge Job reads. */
  resultsClaim?: string;
  /** Flags of `run` every share is given (scenario flags, --max-late...). */
  runArgs: readonly string[];
  /** Flags only share 0, the coordinator's, is given (--start-at). */
  coordinatorArgs: readonly string[];
  /** How long a share may take at most (its wait for the start, then the run), in ms: the merge Job waits as long. */
  shareMaxMs: number;
}

/** The default name of a run's objects: "rtmpbench-" and the run id as a DNS label. */
export function k8sName(runId: string): string {
  const slug = runId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return slug === '' ? 'rtmpbench' : `rtmpbench-${slug}`;
}

/**
 * A name the objects can take: a DNS label short enough that `<name>-<index>` (a pod's host
 * name) and `<name>-scenario` stay within 63 characters. Null when it fits, else why not.
 */
export function nameProblem(name: string): string | null {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name))
    return `"${name}" is not a DNS label (lower-case letters, digits and -, starting with a letter)`;
  if (name.length > 50) return `"${name}" is longer than 50 characters`;
  return null;
}

/** A word for sh, quoted. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The coordinator's URL as the other shares reach it. */
function coordinatorUrl(name: string): string {
  return `http://${name}-0.${name}:${COORDINATOR_PORT}`;
}

const labels = (name: string, component: 'share' | 'merge') => ({
  'app.kubernetes.io/name': 'rtmpbench',
  'app.kubernetes.io/instance': name,
  'app.kubernetes.io/component': component,
});

/**
 * The share's shell: its index comes from the Job (JOB_COMPLETION_INDEX); share 0 serves the
 * coordinator, the others join it. The run's flags arrive as the script's arguments ("$@"), so
 * they need no quoting here. Without a shared volume the results folder goes to the log, as a
 * base64 tar between two marker lines, whether or not the run passed.
 */
function shareScript(o: K8sRunOptions, name: string): string {
  const out = `${RESULTS_DIR}/${o.runId}/share-$i`;
  const run =
    `${CLI} run ${SCENARIO_DIR}/${SCENARIO_FILE} --shard "$i/${o.shares}" ` +
    `--run-id ${shellQuote(o.runId)} --out "${out}" "$@"`;
  const lines = [
    'i="$JOB_COMPLETION_INDEX"',
    `if [ "$i" = 0 ]; then set -- "$@" --coordinate 0.0.0.0:${COORDINATOR_PORT}${o.coordinatorArgs.map((a) => ` ${shellQuote(a)}`).join('')}`,
    `else set -- "$@" --coordinator ${coordinatorUrl(name)}; fi`,
  ];
  if (o.resultsClaim !== undefined) return [...lines, `exec ${run}`].join('\n');
  return [
    ...lines,
    `code=0; ${run} || code=$?`,
    `echo ${RESULTS_BEGIN}; tar -C "${out}" -cz . | base64; echo ${RESULTS_END}`,
    'exit "$code"',
  ].join('\n');
}

/** The merge Job's shell: waits (bounded) for every share's manifest, then merges what is there. */
function mergeScript(o: K8sRunOptions): string {
  const dir = `${RESULTS_DIR}/${o.runId}`;
  const waitS = Math.ceil(o.shareMaxMs / 1000) + MERGE_MARGIN_S;
  return [
    `n=0; until [ "$(ls ${dir}/share-*/*/manifest.json 2>/dev/null | wc -l)" -ge ${o.shares} ]; do`,
    `  [ "$n" -ge ${waitS} ] && break; sleep 5; n=$((n + 5)); done`,
    `exec ${CLI} merge ${dir}/share-*/*/ --out ${dir} --name merged`,
  ].join('\n');
}

function resultsVolume(o: K8sRunOptions): IVolume {
  return o.resultsClaim !== undefined
    ? { name: 'results', persistentVolumeClaim: { claimName: o.resultsClaim } }
    : { name: 'results', emptyDir: {} };
}

/** The run's objects, validated (a schema violation throws). */
function k8sObjects(o: K8sRunOptions): (ConfigMap | Service | Job)[] {
  const name = o.name ?? k8sName(o.runId);
  const meta = (suffix: string, component: 'share' | 'merge') => ({
    name: `${name}${suffix}`,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    labels: labels(name, component),
    annotations: { 'rtmpbench/run-id': o.runId },
  });
  const scenario = new ConfigMap({
    metadata: meta('-scenario', 'share'),
    data: { [SCENARIO_FILE]: o.scenarioText },
  });
  const service = new Service({
    metadata: meta('', 'share'),
    spec: {
      // Headless: DNS names the pods (<name>-<index>.<name>), even before they are ready.
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: labels(name, 'share'),
      ports: [{ name: 'coordinator', port: COORDINATOR_PORT, targetPort: COORDINATOR_PORT }],
    },
  });
  const shares = new Job({
    metadata: meta('', 'share'),
    spec: {
      completionMode: 'Indexed',
      completions: o.shares,
      parallelism: o.shares,
      // A share run again would start late or count twice (merge refuses duplicates anyway).
      backoffLimit: 0,
      template: {
        metadata: { labels: labels(name, 'share') },
        spec: {
          subdomain: name,
          restartPolicy: 'Never',
          // One share per node: shares on one node would measure each other's load.
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: labels(name, 'share') }, topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          },
          containers: [
            {
              name: 'share',
              image: o.image,
              command: ['sh', '-c', shareScript(o, name), 'share'],
              args: [...o.runArgs],
              ports: [{ name: 'coordinator', containerPort: COORDINATOR_PORT }],
              volumeMounts: [
                { name: 'scenario', mountPath: SCENARIO_DIR, readOnly: true },
                { name: 'results', mountPath: RESULTS_DIR },
              ],
            },
          ],
          volumes: [{ name: 'scenario', configMap: { name: `${name}-scenario` } }, resultsVolume(o)],
        },
      },
    },
  });
  const objects: (ConfigMap | Service | Job)[] = [scenario, service, shares];
  // One share has nothing to merge (and merge wants two folders).
  if (o.resultsClaim !== undefined && o.shares > 1) {
    objects.push(
      new Job({
        metadata: meta('-merge', 'merge'),
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: labels(name, 'merge') },
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'merge',
                  image: o.image,
                  command: ['sh', '-c', mergeScript(o)],
                  volumeMounts: [{ name: 'results', mountPath: RESULTS_DIR }],
                },
              ],
              volumes: [resultsVolume(o)],
            },
          },
        },
      }),
    );
  }
  for (const obj of objects) obj.validate();
  return objects;
}

/** How the results come back, as comment lines for the top of the manifests. */
function howToCollect(o: K8sRunOptions, name: string): string[] {
  const ns = o.namespace !== undefined ? ` -n ${o.namespace}` : '';
  if (o.shares === 1)
    return o.resultsClaim !== undefined
      ? [`Results: ${RESULTS_DIR}/${o.runId}/share-0/ on the claim ${o.resultsClaim} (one share: nothing to merge).`]
      : [
          'Results: the share prints its results folder in its log (a base64 tar between two lines); extract it:',
          `  kubectl${ns} logs job/${name} | sed -n '/^${RESULTS_BEGIN}$/,/^${RESULTS_END}$/p' | sed '1d;$d' | base64 -d | tar -xz`,
        ];
  if (o.resultsClaim !== undefined)
    return [
      `Results: ${RESULTS_DIR}/${o.runId}/share-<i>/ on the claim ${o.resultsClaim}; the Job ${name}-merge`,
      `merges them into ${RESULTS_DIR}/${o.runId}/<time>-merged/ when every share is done:`,
      `  kubectl${ns} wait --for=condition=complete --timeout=-1s job/${name}-merge && kubectl${ns} logs job/${name}-merge`,
    ];
  return [
    'Results: each share prints its results folder in its log (a base64 tar); collect and merge them:',
    `  for p in $(kubectl${ns} get pods -l job-name=${name} -o name); do mkdir -p shares/\${p#pod/}`,
    `    kubectl${ns} logs "$p" | sed -n '/^${RESULTS_BEGIN}$/,/^${RESULTS_END}$/p' | sed '1d;$d' |`,
    `    base64 -d | tar -xz -C shares/\${p#pod/}; done`,
    '  rtmpbench merge shares/*/*/',
    'Large results may outgrow what the cluster keeps of a log: give --results-volume then.',
  ];
}

/** The manifests as one YAML stream, with how to apply them and collect the results. */
export function k8sYaml(o: K8sRunOptions): string {
  const name = o.name ?? k8sName(o.runId);
  const ns = o.namespace !== undefined ? ` -n ${o.namespace}` : '';
  const head = [
    `rtmpbench run ${o.runId}: ${o.shares} shares of the scenario, one per node.`,
    `Apply: kubectl${ns} apply -f THIS_FILE; follow: kubectl${ns} logs -f job/${name}`,
    ...howToCollect(o, name),
  ];
  const docs = k8sObjects(o).map((obj) => stringify(obj.toJSON(), { lineWidth: 0 }));
  return `${head.map((l) => `# ${l}`).join('\n')}\n${docs.map((d) => `---\n${d}`).join('')}`;
}
