/**
 * The Elasticsearch side of `bench:search --stack`: a throwaway image index on the local stack and
 * what the node says about it (version, store size, heap, CPU). The benchmark writes and searches
 * only through the ImageIndex port; this client is for the measurements and the cleanup around it.
 */
import { Client } from '@elastic/elasticsearch';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ElasticsearchImageIndex } from '../shared/adapters/elasticsearch-image-index.adapter';
import { stackEnv } from '../test/helpers/stack';

export interface StackIndexOptions {
  shards: number;
  replicas: number;
  bulkWindowMs: number;
}

export interface StoreFigures {
  /** Documents in the primaries, deleted ones (rewritten by re-sends, not yet merged away) apart. */
  docs: number;
  deleted: number;
  primaryBytes: number;
  totalBytes: number;
  segments: number;
}

export interface NodeFigures {
  version: string;
  heapUsedBytes: number;
  heapMaxBytes: number;
  /** On the whole node, other users' indices included. */
  shards: number;
}

export class StackIndex {
  /** Unique per run, so a run never meets an earlier run's images or another user's index. */
  readonly name = `bench-search-${randomUUID().slice(0, 8)}`;
  readonly index: ElasticsearchImageIndex;
  private readonly client: Client;
  private readonly readAlias = `${this.name}-read`;

  constructor(options: StackIndexOptions) {
    const node = process.env.ELASTICSEARCH_URL ?? stackEnv().ELASTICSEARCH_URL;
    // A force merge of a million documents takes minutes on two cores: no short request timeout here.
    this.client = new Client({ node, requestTimeout: 3_600_000 });
    // refresh 'false': bulks do not wait for a refresh, as the indexer's; refresh() makes the load searchable.
    this.index = new ElasticsearchImageIndex({ node, index: this.name, shards: options.shards, replicas: options.replicas, refresh: 'false', bulkWindowMs: options.bulkWindowMs });
  }

  /** Makes the indices and aliases, so that the load times writes only. */
  async open(): Promise<void> {
    await this.index.get('0'.repeat(64));
  }

  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.readAlias });
  }

  /** CPU time the node's process has used, so a phase's cost can be told apart from the benchmark's own. */
  async cpuMillis(): Promise<number> {
    // The node caches its process stats for monitor.process.refresh_interval (1 s) and refreshes them
    // on a read after that (ProcessService): waiting longer makes this reading current.
    await sleep(1_100);
    const stats = await this.client.nodes.stats({ metric: ['process'] });
    return Object.values(stats.nodes).reduce((sum, node) => sum + (node.process?.cpu?.total_in_millis ?? 0), 0);
  }

  async store(): Promise<StoreFigures> {
    // Store sizes are cached for index.store.stats_refresh_interval (10 s): a merge's freed files
    // would otherwise still be counted.
    await sleep(10_500);
    const stats = await this.client.indices.stats({ index: this.readAlias, metric: ['docs', 'store', 'segments'] });
    const { primaries, total } = stats._all;
    return {
      docs: primaries?.docs?.count ?? 0,
      deleted: primaries?.docs?.deleted ?? 0,
      primaryBytes: primaries?.store?.size_in_bytes ?? 0,
      totalBytes: total?.store?.size_in_bytes ?? 0,
      segments: primaries?.segments?.count ?? 0,
    };
  }

  /** Merges each backing index to one segment, as an index no longer written to would be. */
  async forceMerge(): Promise<void> {
    await this.client.indices.forcemerge({ index: this.readAlias, max_num_segments: 1 });
    await this.refresh();
  }

  async node(): Promise<NodeFigures> {
    const [info, stats, health] = await Promise.all([this.client.info(), this.client.nodes.stats({ metric: ['jvm'] }), this.client.cluster.health()]);
    const jvm = Object.values(stats.nodes).map((node) => node.jvm?.mem);
    return {
      version: info.version.number,
      heapUsedBytes: jvm.reduce((sum, mem) => sum + (mem?.heap_used_in_bytes ?? 0), 0),
      heapMaxBytes: jvm.reduce((sum, mem) => sum + (mem?.heap_max_in_bytes ?? 0), 0),
      shards: health.active_shards,
    };
  }

  /** Closes the adapter; unless kept, deletes every index and template it made (by name: wildcard deletes are refused). */
  async close(keep: boolean): Promise<void> {
    await this.index.close();
    try {
      if (keep) return console.error(`kept ${this.readAlias} (write alias ${this.name}-write)`);
      // 404: the run failed before the adapter made its aliases.
      const aliases = await this.client.indices.getAlias({ name: this.readAlias }, { ignore: [404], meta: true });
      const backing = aliases.statusCode === 404 ? [] : Object.keys(aliases.body);
      await this.client.indices.delete({ index: [...backing, `${this.name}-failures`], ignore_unavailable: true });
      for (const name of [`${this.name}-template`, `${this.name}-failures-template`]) await this.client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    } finally {
      await this.client.close();
    }
  }
}
