// Original file: proto/ring.proto


export interface JoinResponse {
  'rank'?: (number);
  'worldSize'?: (number);
  'session'?: (string);
}

export interface JoinResponse__Output {
  'rank': (number);
  'worldSize': (number);
  'session': (string);
}
