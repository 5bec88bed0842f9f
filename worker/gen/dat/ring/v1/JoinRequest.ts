// Original file: proto/ring.proto


export interface JoinRequest {
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * Job name and gang incarnation: a worker from an older incarnation must not join.
   */
  'session'?: (string);
}

export interface JoinRequest__Output {
  'rank': (number);
  'worldSize': (number);
  /**
   * Job name and gang incarnation: a worker from an older incarnation must not join.
   */
  'session': (string);
}
