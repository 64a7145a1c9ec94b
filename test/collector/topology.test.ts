// The two collector tiers for real (test/support/topology.ts): the services as local processes send
// to the agent container, which routes to gateway containers, which export to Prometheus and to the
// Tempo and Loki stand-ins. Outages of each part under traffic, and tail sampling on two replicas,
// checked request by request: every request's spans, log records and counter increments arrive, once.
// One stack for all scenarios (each starts its own service processes, whose series carry their own
// service.instance.id); the scenarios run in order.
//
// The topology starts once, in this file; the scenarios are grouped by subject in
// test/collector/topology/ and registered here in the order they run.
import { after, before } from 'node:test';
import { startTopology, stopTopology } from './topology/fixture.ts';
import { floodTests } from './topology/flood.ts';
import { outageTests } from './topology/outages.ts';
import { prometheusOutageTests } from './topology/prometheus-outage.ts';
import { tailSamplingTests } from './topology/tail-sampling.ts';

before(startTopology);
after(stopTopology);

outageTests();
prometheusOutageTests();
floodTests();
tailSamplingTests();
