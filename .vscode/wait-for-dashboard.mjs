// `node .vscode/wait-for-dashboard.mjs PORT [SECONDS]`: exit 0 as soon as something answers HTTP
// at http://127.0.0.1:PORT/ (the playground's dashboard), 1 after SECONDS (default 60) without.
// The preLaunchTask of "Client: client.js in Chromium": in the compound, Chromium would
// otherwise open the dashboard before the playground has started it.
import http from 'node:http';

const port = Number(process.argv[2] ?? 9901);
const seconds = Number(process.argv[3] ?? 60);
const deadline = Date.now() + seconds * 1000;

function answers() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

if (!(await answers())) {
  console.log(`Waiting for the playground's dashboard on http://127.0.0.1:${port}/ …`);
  while (!(await answers())) {
    if (Date.now() > deadline) {
      console.error(
        `Nothing answers on http://127.0.0.1:${port}/ after ${seconds} s. Start the playground first: ` +
          `"Playground: server.js + wsplay (Node)", or WSPLAY_TOKEN=vscode-debug npm start.`,
      );
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
console.log(`The dashboard answers on http://127.0.0.1:${port}/.`);
