/**
 * The inputs of the CloudWatch Logs operations Berth serves, as the API
 * model has accepted them (the api layer checks at compile time that the
 * model's input types fit these).
 */
type Tags = Record<string, string>;
interface GroupRef {
  logGroupName?: string;
  logGroupIdentifier?: string;
}

export interface CreateLogGroupInput {
  logGroupName: string;
  tags?: Tags;
  logGroupClass?: string;
}
export interface DescribeLogGroupsInput {
  logGroupNamePrefix?: string;
  logGroupNamePattern?: string;
  nextToken?: string;
  limit?: number;
  logGroupClass?: string;
  logGroupIdentifiers?: string[];
}
export interface LogGroupNameInput {
  logGroupName: string;
}
export interface PutRetentionPolicyInput {
  logGroupName: string;
  retentionInDays: number;
}
export interface TagResourceInput {
  resourceArn: string;
  tags: Tags;
}
export interface UntagResourceInput {
  resourceArn: string;
  tagKeys: string[];
}
export interface ResourceArnInput {
  resourceArn: string;
}
export interface TagLogGroupInput {
  logGroupName: string;
  tags: Tags;
}
export interface UntagLogGroupInput {
  logGroupName: string;
  tags: string[];
}
export interface LogStreamInput {
  logGroupName: string;
  logStreamName: string;
}
export interface DescribeLogStreamsInput extends GroupRef {
  logStreamNamePrefix?: string;
  orderBy?: 'LogStreamName' | 'LastEventTime';
  descending?: boolean;
  nextToken?: string;
  limit?: number;
}
export interface PutLogEventsInput {
  logGroupName: string;
  logStreamName: string;
  logEvents: { timestamp: number; message: string }[];
  sequenceToken?: string;
}
export interface GetLogEventsInput extends GroupRef {
  logStreamName: string;
  startTime?: number;
  endTime?: number;
  nextToken?: string;
  limit?: number;
  startFromHead?: boolean;
}
export interface FilterLogEventsInput extends GroupRef {
  logStreamNames?: string[];
  logStreamNamePrefix?: string;
  startTime?: number;
  endTime?: number;
  filterPattern?: string;
  nextToken?: string;
  limit?: number;
}
