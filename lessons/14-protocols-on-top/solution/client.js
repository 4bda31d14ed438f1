const socket = new WebSocket('ws://localhost:9900');

// Calls waiting for their answer, by id: answers may come in any order, the id pairs them.
let nextId = 1;
const waiting = new Map();

function call(method, params) {
  const id = nextId++;
  socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

// A notification has no id: the sender wants no answer, and gets none.
function notify(method, params) {
  socket.send(JSON.stringify({ jsonrpc: '2.0', method, params }));
}

socket.onmessage = (event) => {
  let answer;
  try {
    answer = JSON.parse(event.data);
  } catch {
    console.log('not JSON, so not JSON-RPC:', event.data);
    return;
  }
  const call = waiting.get(answer.id);
  if (!call) {
    console.log('an answer to no call of mine:', event.data);
    return;
  }
  waiting.delete(answer.id);
  if (answer.error) call.reject(new Error(`${answer.error.code} ${answer.error.message}`));
  else call.resolve(answer.result);
};

socket.onopen = async () => {
  notify('log', ['the client is here']);
  console.log('add(2, 3) =', await call('add', [2, 3]));
  try {
    console.log('multiply(2, 3) =', await call('multiply', [2, 3]));
  } catch (error) {
    console.log('multiply failed:', error.message);
  }
};
