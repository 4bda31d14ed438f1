// Polling: ask the server every 250 ms whether anything happened.
let seen = 0;

setInterval(async () => {
  const response = await fetch(`http://localhost:9900/notifications?after=${seen}`);
  const news = await response.json();
  for (const notification of news) {
    console.log('notification:', notification.text);
    seen = notification.id;
  }
}, 250);
