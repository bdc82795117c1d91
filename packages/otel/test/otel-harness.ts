import type { Attributes } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader, type HistogramMetricData, type MetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import type { OtelOptions } from '../src/index.js';

/** Reads the SDK's metrics on demand: the real aggregation, no export interval. */
export class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The real SDK, exporting to memory: finished spans, and metrics read on demand. */
export interface Telemetry {
  readonly spans: InMemorySpanExporter;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** What @skein/otel's wrappers take, with the W3C propagator. */
  readonly otel: OtelOptions;
  collect(): Promise<MetricData[]>;
}

/** `temporality`: the reader's, for every instrument (the SDK's default is cumulative). */
export function telemetry(temporality = AggregationTemporality.CUMULATIVE): Telemetry {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new PullReader({ aggregationTemporalitySelector: () => temporality });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    spans,
    tracerProvider,
    meterProvider,
    otel: { tracerProvider, meterProvider, propagator: new W3CTraceContextPropagator() },
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    },
  };
}

export function metric(all: MetricData[], name: string): MetricData {
  const m = all.find((x) => x.descriptor.name === name);
  expect(m, name).toBeDefined();
  return m!;
}

export const matching = <P extends { attributes: Attributes }>(dataPoints: P[], match: Record<string, unknown>): P[] =>
  dataPoints.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));

/** A counter's (or gauge's) value over the points whose attributes include `match` (0 before its first record). */
export function sum(all: MetricData[], name: string, match: Record<string, unknown>): number {
  const m = all.find((x) => x.descriptor.name === name) as SumMetricData | undefined;
  return matching(m?.dataPoints ?? [], match).reduce((n, p) => n + p.value, 0);
}

/** A histogram's count and sum over the points whose attributes include `match`. */
export function histogram(all: MetricData[], name: string, match: Record<string, unknown>): { count: number; sum: number } {
  const m = all.find((x) => x.descriptor.name === name) as HistogramMetricData | undefined;
  return matching(m?.dataPoints ?? [], match).reduce((t, p) => ({ count: t.count + p.value.count, sum: t.sum + (p.value.sum ?? 0) }), { count: 0, sum: 0 });
}
