/**
 * A Lambda execution environment on this machine: a fake Runtime API on 127.0.0.1 that speaks the
 * real protocol (GET /2018-06-01/runtime/invocation/next with Lambda-Runtime-Aws-Request-Id and the
 * other headers; POST .../invocation/{id}/response or /error), and a child Node process running
 * fixtures/lambda/runtime.mjs with a handler module. As Lambda does, the process is frozen (SIGSTOP)
 * once the runtime has posted the response and asks for the next invocation ("Lambda freezes the
 * execution environment when the runtime and each extension have completed by sending a Next API
 * request"), thawed (SIGCONT) for the next invocation, and recycled (SIGKILL) without a signal it
 * could act on.
 */
import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const RUNTIME = fileURLToPath(new URL('./fixtures/lambda/runtime.mjs', import.meta.url));

export interface LambdaEnvironment {
  /** Runs one invocation; resolves with what the runtime posted, once the environment is frozen after it. */
  invoke(event: unknown): Promise<Record<string, unknown>>;
  /** Ends the environment as Lambda recycles one: SIGKILL, no chance to send anything. */
  recycle(): Promise<void>;
  readonly frozen: boolean;
}

interface Invocation {
  id: string;
  event: unknown;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

/**
 * Starts an environment whose runtime loads `handler` (a module exporting `handler`) with `env`.
 * `freeze: false` lets it run between invocations, as no Lambda does: to read what an SDK logs in the end.
 */
export async function startLambda(handler: string, env: Record<string, string>, { freeze = true } = {}): Promise<LambdaEnvironment> {
  const queue: Invocation[] = [];
  const pending = new Map<string, Invocation & { result?: Record<string, unknown> }>();
  let waitingRuntime: ServerResponse | undefined;
  let frozen = false;
  let count = 0;
  // The runtime's process, once spawned (the API must listen first: its address is in the environment).
  let pid: number | undefined;

  function deliver(res: ServerResponse, invocation: Invocation): void {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': invocation.id,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30_000),
      'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:orders',
      'Lambda-Runtime-Trace-Id': `Root=1-00000000-${invocation.id};Sampled=0`,
    });
    res.end(JSON.stringify(invocation.event));
  }

  const api = createServer((req, res) => {
    const path = req.url ?? '';
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'GET' && path === '/2018-06-01/runtime/invocation/next') {
        const next = queue.shift();
        if (next) return deliver(res, next);
        waitingRuntime = res;
        // The runtime is idle: Lambda freezes the environment now. The invocations it answered resolve
        // only after this, so that a test reads the collector with the process stopped.
        if (freeze && pid !== undefined) {
          process.kill(pid, 'SIGSTOP');
          frozen = true;
        }
        for (const [id, done] of pending) {
          if (done.result) {
            pending.delete(id);
            done.resolve(done.result);
          }
        }
        return;
      }
      const answered = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
      const invocation = answered && pending.get(answered[1] as string);
      if (!answered || !invocation) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
      if (answered[2] === 'error') {
        pending.delete(invocation.id);
        invocation.reject(new Error(`the handler failed: ${body}`));
      } else invocation.result = JSON.parse(body) as Record<string, unknown>;
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const port = (api.address() as AddressInfo).port;

  let stderr = '';
  const started = spawn(process.execPath, ['--import', 'tsx', RUNTIME], {
    env: {
      ...process.env,
      ...env,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: 'orders',
      AWS_REGION: 'us-east-1',
      LAMBDA_HANDLER: handler,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  pid = started.pid;
  started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
  void exited.then(() => {
    for (const invocation of pending.values()) invocation.reject(new Error(`the runtime exited: ${stderr}`));
    api.close();
    api.closeAllConnections();
  });

  return {
    invoke(event) {
      return new Promise((resolve, reject) => {
        const invocation = { id: `req-${++count}`, event, resolve, reject };
        pending.set(invocation.id, invocation);
        const runtime = waitingRuntime;
        waitingRuntime = undefined;
        if (!runtime) {
          queue.push(invocation);
          return;
        }
        if (frozen && pid !== undefined) {
          process.kill(pid, 'SIGCONT');
          frozen = false;
        }
        deliver(runtime, invocation);
      });
    },
    async recycle() {
      started.kill('SIGKILL');
      await exited;
    },
    get frozen() {
      return frozen;
    },
  };
}

/**
 * The network between a function and its collector, as NAT gateways and Lambda's own NAT are: a
 * connection idle longer than their timeout (350 s) is forgotten without telling either end, and
 * the next packet on it is answered with a reset. A TCP proxy on 127.0.0.1 to `target`; `forgetIdle()`
 * is that timeout passing, for the connections open now.
 */
export async function startNat(targetPort: number): Promise<{ url: string; forgetIdle(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const forgotten = new WeakSet<Socket>();
  const server = createTcpServer((inbound) => {
    open.add(inbound);
    const outbound = connect(targetPort, '127.0.0.1');
    inbound.on('data', (chunk) => {
      if (forgotten.has(inbound)) {
        inbound.resetAndDestroy();
        outbound.destroy();
      } else outbound.write(chunk);
    });
    outbound.on('data', (chunk) => inbound.write(chunk));
    const end = () => {
      open.delete(inbound);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('close', end).on('error', end);
    outbound.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forgetIdle() {
      for (const socket of open) forgotten.add(socket);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
