import t from 'tap';
import fc from 'fast-check';
import { encodeGatewayBeacon, readGatewayBeacon } from './gateway.beacon.js';
import { subjects } from './subjects.js';

const encoder = new TextEncoder();

t.test('a beacon round-trips through its subject and payload', (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.nat(), (gateway, connections) => {
      const { subject, beacon } = encodeGatewayBeacon(gateway, connections);
      t.equal(subject, subjects.gatewayHeartbeat(gateway));
      t.same(readGatewayBeacon(subject, encoder.encode(JSON.stringify(beacon))), beacon);
    }),
  );
  t.end();
});

t.test('any message on the subject is a sign of life (older gateways, bad payloads)', (t) => {
  const subject = subjects.gatewayHeartbeat('gw1');
  for (const payload of ['{"gateway":"gw1","connections":3}', '', 'not json', 'null', '{}']) {
    const b = readGatewayBeacon(subject, encoder.encode(payload));
    t.equal(b.type, 'gateway_alive', payload);
    t.equal(b.gateway, 'gw1', payload);
  }
  t.equal(readGatewayBeacon(subject, encoder.encode('{"connections":3}')).connections, 3);
  t.end();
});
