import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { SystemEventMap } from '@piton/core';
import type { InterpreterOutput } from '../../src/ops/output.js';
import { formatOutputLine, outputSink } from '../../src/ops/output.js';

/** What `system.events` is: an EventEmitter of the system's event map. */
const events = () => new EventEmitter<SystemEventMap>();

const line: InterpreterOutput = { worker: 'python-2', stream: 'stdout', line: 'hello' };

function fakeStderr() {
  const written: string[] = [];
  return { written, write: (text: string) => written.push(text) };
}

describe('interpreter output', () => {
  it("goes to stderr, prefixed with the worker, when nothing listens to the system's 'output'", () => {
    const stderr = fakeStderr();
    outputSink(undefined, events(), stderr)(line);
    expect(stderr.written).to.deep.equal(['[python-2] hello\n']);
    expect(formatOutputLine({ worker: 'python-1', stream: 'stderr', line: 'oops' })).to.equal('[python-1] oops\n');
  });

  it('goes to the listeners instead once there are some, and back to stderr after they leave', () => {
    const stderr = fakeStderr();
    const system = events();
    const sink = outputSink(undefined, system, stderr);
    const heard: InterpreterOutput[] = [];
    const listener = (output: InterpreterOutput) => heard.push(output);
    system.on('output', listener);
    sink(line);
    system.off('output', listener);
    sink(line);
    expect(heard).to.deep.equal([line]);
    expect(stderr.written).to.deep.equal(['[python-2] hello\n']);
  });

  it('goes to onOutput alone when given, and nowhere with onOutput: false', () => {
    const stderr = fakeStderr();
    const heard: InterpreterOutput[] = [];
    outputSink((output) => heard.push(output), events(), stderr)(line);
    outputSink(false, events(), stderr)(line);
    expect(heard).to.deep.equal([line]);
    expect(stderr.written).to.deep.equal([]);
  });
});
