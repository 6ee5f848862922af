/**
 * Test helper: a TCP proxy on 127.0.0.1 whose connections a test can cut, to drop a client's
 * connections to a server (TLS passes through untouched) and refuse new ones for a while.
 */

/** A TCP proxy whose connections a test can cut (TLS passes through untouched) */
export class CuttableProxy {
  readonly #listener: Deno.TcpListener;
  readonly #open = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #refusing = false;
  accepted = 0;

  constructor(readonly upstreamPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) {
      if (this.#refusing) {
        conn.close();
        continue;
      }
      this.accepted++;
      // a connection the test cut ends with an error: that is the point of the proxy
      this.#pipe(conn).catch(() => {});
    }
  }

  async #pipe(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.upstreamPort });
    } catch {
      client.close();
      return;
    }
    this.#open.add(client);
    this.#open.add(upstream);
    const close = (conn: Deno.Conn) => {
      if (this.#open.delete(conn)) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    };
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
    close(client);
    close(upstream);
  }

  /** Closes every proxied connection and refuses new ones until `resume()` */
  cut(): void {
    this.#refusing = true;
    for (const conn of [...this.#open]) {
      this.#open.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  resume(): void {
    this.#refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.#listener.close();
    // the listener was closed to stop accepting: its error is the stop
    await this.#accepting.catch(() => {});
  }
}
