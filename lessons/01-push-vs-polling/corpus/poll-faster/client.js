// Polling, but fast: ask every 50 ms, so the news is never more than 50 ms late.
let seen = 0;

setInterval(async () => {
  const response = await fetch(`http://localhost:9900/notifications?after=${seen}`);
  const news = await response.json();
  for (const notification of news) {
    console.log('notification:', notification.text);
    seen = notification.id;
  }
}, 50);
