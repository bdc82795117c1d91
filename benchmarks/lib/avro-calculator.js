import avro from 'avsc';

/** The Calculator's add as an Avro protocol, for avsc's RPC: two ints in, an int out. */
export const avroCalculator = avro.Service.forProtocol({
  protocol: 'Calculator',
  messages: {
    add: { request: [{ name: 'a', type: 'int' }, { name: 'b', type: 'int' }], response: 'int' },
  },
});

/** Bytes of an add request's arguments in Avro's binary encoding. */
export const avroAddBytes = (arg) => avroCalculator.message('add').requestType.toBuffer(arg).length;
