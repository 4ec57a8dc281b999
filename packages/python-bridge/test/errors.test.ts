import { expect } from 'chai';
import { EncodeError, MessageTooLargeError, PitonError, ProtocolError, PythonError } from '../src/errors.js';
import { parseReply, toPythonError } from '../src/wire/protocol.js';

/** The error an error reply of this shape stands for. */
function errorFromPython(type: string, message: string, traceback: string): Error {
  return toPythonError({ type, message, traceback });
}

const TRACEBACK = 'Traceback (most recent call last):\n  ...\n';

describe('errors: one class per condition, whichever side found it', () => {
  it("the worker's EncodeError is an EncodeError from Python, with no path and its type name in the message", () => {
    const error = errorFromPython('EncodeError', "cannot encode object of type 'set'", TRACEBACK);
    expect(error).to.be.instanceOf(EncodeError).and.instanceOf(PitonError).and.not.instanceOf(PythonError);
    expect(error).to.include({
      name: 'EncodeError',
      message: "cannot encode object of type 'set'",
      path: '',
      origin: 'python',
      pythonType: 'EncodeError',
      pythonTraceback: TRACEBACK,
    });
  });

  it("the worker's MessageTooLarge is a MessageTooLargeError with the size and limit of its message", () => {
    for (const what of ['reply', 'request']) {
      const message = `${what} of 70000 bytes exceeds the worker's maximum message size of 65536 bytes`;
      const error = errorFromPython('MessageTooLarge', message, '');
      expect(error).to.be.instanceOf(MessageTooLargeError);
      expect(error).to.include({ name: 'MessageTooLargeError', size: 70000, limit: 65536, message, origin: 'python', pythonType: 'MessageTooLarge' });
    }
    // A message of another form keeps the class; the numbers it does not give are NaN, not made up.
    const odd = errorFromPython('MessageTooLarge', 'too big', '') as MessageTooLargeError;
    expect(odd).to.be.instanceOf(MessageTooLargeError);
    expect(odd.size).to.be.NaN;
    expect(odd.limit).to.be.NaN;
  });

  it("the worker's ProtocolError is a ProtocolError from Python", () => {
    const error = errorFromPython('ProtocolError', "undecodable message: TypeError: unhashable type: 'list'", TRACEBACK);
    expect(error).to.be.instanceOf(ProtocolError);
    expect(error).to.include({ origin: 'python', pythonType: 'ProtocolError', pythonTraceback: TRACEBACK });
  });

  it('any other type is a PythonError, qualified names included (a user class named like ours is theirs)', () => {
    for (const type of ['ValueError', 'ModuleNotFoundError', 'mymodule.EncodeError', 'mymodule.MessageTooLarge']) {
      const error = errorFromPython(type, 'm', TRACEBACK);
      expect(error, type).to.be.instanceOf(PythonError);
      expect(error).to.include({ pythonType: type, pythonTraceback: TRACEBACK, message: 'm' });
    }
  });

  it("Node's own are origin 'node', without Python's fields", () => {
    for (const error of [new EncodeError('cannot send a Set at value', 'value'), new MessageTooLargeError(10, 5), new ProtocolError('bad reply')]) {
      expect(error).to.include({ origin: 'node', pythonType: undefined, pythonTraceback: undefined });
    }
  });

  it('error replies and failed batch entries map the same way', () => {
    const shape = { type: 'MessageTooLarge', message: 'reply of 9 bytes exceeds the worker\'s maximum message size of 8 bytes', traceback: '' };
    expect(toPythonError(shape)).to.be.instanceOf(MessageTooLargeError);
    const reply = parseReply([
      'results',
      1,
      [
        ['ok', 1],
        ['error', { type: 'EncodeError', message: "cannot encode object of type 'object'", traceback: '' }],
        ['error', { type: 'ZeroDivisionError', message: 'division by zero', traceback: '' }],
      ],
    ]);
    if (reply.kind !== 'results') throw new Error(`expected results, got ${reply.kind}`);
    const [, encode, raised] = reply.results;
    expect(encode).to.have.property('ok', false);
    expect(encode!.ok === false && encode!.error).to.be.instanceOf(EncodeError).and.include({ origin: 'python' });
    expect(raised!.ok === false && raised!.error).to.be.instanceOf(PythonError);
  });
});
