// `npm run demo`: the built-in delta-learning pipeline. Not built yet.
console.log('The demo pipeline is not built yet: the services and the model ladder come first.');
